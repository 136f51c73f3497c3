"""The review study through the running app: a browser, raw HTTP, many reviewers, a crash.

One server (with the embedded demo study) runs for the whole module; each test makes the small
studies and accounts it needs as `fairskin study create` does (`make_study`), and uses the command
line where an admin's terminal beside the running server is the point.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests
from PIL import Image

from review_data.store import ReviewStore
from review_data.study import add_reviewer

from .conftest import REPO, demo_credentials, running_app, sign_in, with_embedded_defaults
from .gradio_http import AppSession, CallError
from .review_helpers import answer, answer_and_save, arm_manifests, database, fairskin, make_study, reviewing, saved_ratings

ANSWER = ["yes", "no", "unsure", "yes"]


@pytest.fixture(scope="module")
def home(embedded_defaults, tmp_path_factory):
    """A workspace given the embedded defaults this worker made once (a start from nothing: `test_first_start`)."""
    return with_embedded_defaults(tmp_path_factory.mktemp("workspace"), embedded_defaults)


@pytest.fixture(scope="module")
def server(home):
    with running_app(home) as app:
        yield app.url


def answers(call: str, realism: int) -> list:
    return [None, call, str(realism), *ANSWER, "", None]  # no certainty: these studies do not ask it


@pytest.mark.slow
@pytest.mark.browser
def test_a_dermatologist_rates_resumes_goes_back_and_finishes(browser, server, home, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    make_study(home, "e2e", 3, ["doc"], seed=5)
    page = browser.new_page(viewport={"width": 1300, "height": 1400})

    def sign_in_as_doc():
        sign_in(page, server, "doc", "password-doc")
        expect(page.locator("#signed-in")).to_contain_text("doc", timeout=30_000)

    def start(first_time: bool = False):
        """Nothing to press: a signed-in or reloaded page opens the study at its first unrated image by itself."""
        if first_time:  # the instructions come before the first image; Enter leaves them
            expect(page.locator("#review-instructions")).to_contain_text("Before you start", timeout=30_000)
            page.keyboard.press("Enter")
        expect(page.locator("#review-picture")).to_be_visible(timeout=30_000)

    def rate(call_key: str, realism: int, checklist: list[str], comment: str = "", save_with_enter: bool = True):
        page.locator("body").click(position={"x": 5, "y": 5})  # shortcuts act when no text field has focus
        page.keyboard.press(call_key)
        page.keyboard.press(str(realism))
        for item, choice in zip(("asymmetry", "border", "colour", "diameter"), checklist, strict=True):
            page.locator(f"#answer-abcd-{item}").get_by_label(choice, exact=True).check()
        if comment:
            page.locator("#answer-comment textarea").fill(comment)
        if save_with_enter:
            page.locator("body").click(position={"x": 5, "y": 5})
            page.keyboard.press("Enter")
        else:
            page.locator("#save-next").click()

    def at(image_number: int, rated: int):
        expect(page.locator("#review-progress")).to_contain_text(f"Image {image_number} of 6 · {rated} / 6 rated", timeout=30_000)

    sign_in_as_doc()
    start(first_time=True)
    at(1, 0)
    rate("s", 5, ["yes", "no", "unsure", "yes"], comment="first")
    at(2, 1)
    rate("r", 3, ["no", "no", "no", "no"], save_with_enter=False)
    at(3, 2)
    page.reload()  # a refresh (or a lost connection): the reviewer continues where they left off
    expect(page.locator("#signed-in")).to_contain_text("doc", timeout=30_000)
    start()
    at(3, 2)
    page.keyboard.press("h")  # keys act at once, with no click or Tab first: H shows the instructions, Enter goes back
    expect(page.locator("#review-instructions")).to_be_visible(timeout=30_000)
    page.keyboard.press("Enter")
    expect(page.locator("#review-picture")).to_be_visible(timeout=30_000)
    at(3, 2)
    rate("r", 6, ["unsure", "yes", "yes", "yes"])
    at(4, 3)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowLeft")  # back to image 3: its answers are shown, and can be changed
    at(3, 3)
    expect(page.locator('#answer-call input[value="real"]')).to_be_checked()
    expect(page.locator('#answer-realism input[value="6"]')).to_be_checked()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    for image_number in (4, 5, 6):  # as a reader does: each image is rated once it is on the screen
        at(image_number, image_number - 1)
        rate("s", 4, ["yes", "yes", "yes", "yes"])
    expect(page.locator("#review-status")).to_contain_text("All 6 images are rated", timeout=30_000)
    page.close()

    with database(home) as db:
        rows = db.execute(
            "SELECT g.position, r.call, r.realism, r.abcd_asymmetry, r.abcd_border, r.abcd_colour, r.abcd_diameter, r.comment, r.revision"
            " FROM ratings r JOIN accounts a ON a.id = r.reviewer_id JOIN studies s ON s.id = r.study_id"
            " JOIN assignments g ON g.reviewer_id = r.reviewer_id AND g.image_id = r.image_id AND g.study_id = r.study_id"
            " WHERE a.username = 'doc' AND s.name = 'e2e' ORDER BY g.position"
        ).fetchall()
        history = db.execute(
            "SELECT count(*) FROM rating_history h JOIN accounts a ON a.id = h.reviewer_id WHERE a.username = 'doc'"
        ).fetchone()[0]
    assert rows == [
        (0, "synthetic", 5, "yes", "no", "unsure", "yes", "first", 1),
        (1, "real", 3, "no", "no", "no", "no", "", 1),
        (2, "real", 2, "unsure", "yes", "yes", "yes", "", 2),
        (3, "synthetic", 4, "yes", "yes", "yes", "yes", "", 1),
        (4, "synthetic", 4, "yes", "yes", "yes", "yes", "", 1),
        (5, "synthetic", 4, "yes", "yes", "yes", "yes", "", 1),
    ]
    assert history == 7  # six answers and one change, all kept

    result = fairskin(home, "study", "export", "--name", "e2e", "--out", tmp_path / "export")
    assert result.returncode == 0, result.stderr
    exported = pd.read_csv(tmp_path / "export" / "ratings.csv", keep_default_na=False)
    assert [tuple(r) for r in exported[["position", "call", "realism", "comment", "revision"]].itertuples(index=False)] == [
        (r[0], r[1], r[2], r[7], r[8]) for r in rows
    ]
    assert set(exported["source"]) <= {"real", "synthetic"} and (exported["reviewer"] == "doc").all()
    summary = pd.read_csv(tmp_path / "export" / "reviewer_summary.csv")
    assert summary.loc[0, "reviewer"] == "doc" and summary.loc[0, "n_ratings"] == 6


@pytest.mark.browser
def test_both_arms_are_shown_at_one_size_though_their_images_differ(browser, server, home):
    """The demo's real arm (phantoms, 128 px) and synthetic arm (the model's, 64 px): every image reaches the reviewer at 64 px
    and takes the same room on the screen, whichever arm it is from."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page = reviewing(browser, server, home, "sizes", "sizer", n_per_arm=2, viewport=(1366, 768))
    with database(home) as db:
        native = json.loads(db.execute("SELECT native_sizes FROM studies WHERE name = 'sizes'").fetchone()[0])
    assert native["real"]["median"] == 128 and native["synthetic"]["median"] == 64
    shown = []
    for number in range(1, 5):
        expect(page.locator("#review-progress")).to_contain_text(f"Image {number} of 4", timeout=30_000)
        picture = page.locator("#review-picture")
        expect(picture).to_have_js_property("complete", True)
        box = picture.bounding_box()
        shown.append((picture.evaluate("i => [i.naturalWidth, i.naturalHeight]"), round(box["width"]), round(box["height"])))
        answer_and_save(page, "r", 4, "no")
    assert len(set(map(str, shown))) == 1 and shown[0][0] == [64, 64], shown  # two real and two synthetic, all alike
    expect(page.locator("#review-status")).to_contain_text("All 4 images are rated", timeout=30_000)
    page.close()


@pytest.mark.browser
def test_enter_on_a_focused_button_presses_that_button_only(browser, server, home):
    """Enter is "Save & next" only where no button has the focus: on a focused button it presses that button, once."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page = reviewing(browser, server, home, "keys", "keyboard", n_per_arm=2, seed=3)
    progress = page.locator("#review-progress")

    def answer_with_keys(call_key: str, realism: int) -> None:
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press(call_key)
        page.keyboard.press(str(realism))
        for item in ("asymmetry", "border", "colour", "diameter"):
            page.locator(f"#answer-abcd-{item}").get_by_label("no", exact=True).check()

    expect(progress).to_contain_text("Image 1 of 4 · 0 / 4 rated", timeout=30_000)
    answer_with_keys("s", 5)
    page.locator("#save-next").focus()
    page.keyboard.press("Enter")  # the focused "Save & next": one save, one step
    expect(progress).to_contain_text("Image 2 of 4 · 1 / 4 rated", timeout=30_000)
    answer_with_keys("r", 2)
    page.locator("#back").focus()
    page.keyboard.press("Enter")  # the focused "Back": back to image 1, image 2's answers not saved
    expect(progress).to_contain_text("Image 1 of 4 · 1 / 4 rated", timeout=30_000)
    page.wait_for_timeout(1000)  # a second, wrong action would land by now
    expect(progress).to_contain_text("Image 1 of 4 · 1 / 4 rated")
    page.close()
    assert saved_ratings(home, "keyboard", "keys", "g.position, r.call, r.realism, r.revision") == [(0, "synthetic", 5, 1)]


@pytest.mark.browser
def test_answers_typed_right_after_start_are_saved_by_enter_and_start_discards_none(browser, server, home):
    """After sign-in (or Start / continue) the focus is where the answer keys work: Enter saves, it never presses Start."""
    expect = pytest.importorskip("playwright.sync_api").expect
    make_study(home, "resumed", 2, ["returning"], seed=12)
    first = AppSession(server, "returning", "password-returning")
    first.call("review_start", "resumed")
    first.call("review_save", *answers("real", 3))  # rated once before: no instructions, Start goes straight to image 2
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, server, "returning", "password-returning")
    expect(page.locator("#signed-in")).to_contain_text("returning", timeout=30_000)
    progress = page.locator("#review-progress")
    expect(progress).to_contain_text("Image 2 of 4 · 1 / 4 rated", timeout=30_000)  # opened by itself at the first unrated
    for key in ("s", "5", "y", "n", "u", "y", "Enter"):  # keys only, as a reader who just signed in
        page.keyboard.press(key)
    expect(progress).to_contain_text("Image 3 of 4 · 2 / 4 rated", timeout=30_000)
    for key in ("r", "2", "n", "n", "n", "n"):  # typed, not saved yet ...
        page.keyboard.press(key)
    page.locator("#review-start").click()  # ... and Start pressed again on the same study: the answers stay
    page.wait_for_timeout(1000)  # a restart would have redrawn the form blank by now
    expect(progress).to_contain_text("Image 3 of 4 · 2 / 4 rated")
    expect(page.locator('#answer-call input[value="real"]')).to_be_checked()
    expect(page.locator('#answer-realism input[value="2"]')).to_be_checked()
    page.keyboard.press("Enter")
    expect(progress).to_contain_text("Image 4 of 4 · 3 / 4 rated", timeout=30_000)
    page.close()
    assert saved_ratings(home, "returning", "resumed", "g.position, r.call, r.realism, r.abcd_border") == [
        (0, "real", 3, "no"), (1, "synthetic", 5, "no"), (2, "real", 2, "no")]


@pytest.mark.browser
def test_after_the_last_image_the_study_is_complete_and_back_still_works(browser, server, home):
    expect = pytest.importorskip("playwright.sync_api").expect
    page = reviewing(browser, server, home, "finish", "finisher", n_per_arm=1, seed=4)
    progress, status = page.locator("#review-progress"), page.locator("#review-status")

    def answer_and_save(realism: int) -> None:
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("s")
        page.keyboard.press(str(realism))
        for item in ("asymmetry", "border", "colour", "diameter"):
            page.locator(f"#answer-abcd-{item}").get_by_label("unsure", exact=True).check()
        page.locator("#save-next").click()

    expect(progress).to_contain_text("Image 1 of 2 · 0 / 2 rated", timeout=30_000)
    answer_and_save(3)
    expect(progress).to_contain_text("Image 2 of 2 · 1 / 2 rated", timeout=30_000)
    answer_and_save(4)
    expect(status).to_contain_text("Study complete. All 2 images are rated", timeout=30_000)
    for control in ("#review-image", "#zoom-toolbar", "#answer-call", "#answer-realism", "#answer-comment", "#save-next"):
        expect(page.locator(control)).to_be_hidden()  # no empty frame, no form to fill
    expect(page.locator("#back")).to_be_visible()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Enter")  # nothing left to save: nothing happens, no error
    page.wait_for_timeout(1000)
    expect(page.get_by_text("Nothing to save here")).to_have_count(0)
    page.locator("#back").click()  # the mouse still takes the reviewer back, to change an answer
    expect(progress).to_contain_text("Image 2 of 2 · 2 / 2 rated", timeout=30_000)
    expect(page.locator('#answer-realism input[value="4"]')).to_be_checked()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("6")
    page.locator("#save-next").click()
    expect(status).to_contain_text("Study complete", timeout=30_000)
    page.close()
    assert saved_ratings(home, "finisher", "finish", "g.position, r.realism, r.revision") == [(0, 3, 1), (1, 6, 2)]

def served_image_url(viewer_html: str, attribute: str = "src") -> str:
    """The image address in the page's image frame (``data-next``: the one the page fetches ahead)."""
    return re.search(rf'{attribute}="([^"]+)"', viewer_html).group(1)


def test_served_images_are_blinded(server, home):
    make_study(home, "blind", 8, ["viewer"], seed=2)
    session = AppSession(server, "viewer", "password-viewer")
    served, fetched_ahead = [], []
    outputs = session.call("review_start", "blind")
    for i in range(16):
        url = served_image_url(outputs[3])
        response = session.get(f"/{url}")
        assert response.status_code == 200
        served.append((url, response.content))
        if i < 15:
            fetched_ahead.append(served_image_url(outputs[3], "data-next"))
        outputs = session.call("review_save", *answers("real", 4))
    assert fetched_ahead == [url for url, _ in served[1:]]  # the page fetches ahead exactly the image that comes next
    assert requests.get(f"{server}{served[0][0]}", timeout=30).status_code == 401  # not signed in: no image
    with database(home) as db:
        key = db.execute(
            "SELECT i.id, i.source, i.image_id, i.file FROM study_images i JOIN studies s ON s.id = i.study_id WHERE s.name = 'blind'"
        ).fetchall()
    forbidden = {"real", "synthetic", "phantom", "manifest"} | {k[0] for k in key} | {k[2] for k in key} | {Path(k[3]).stem for k in key}
    formats = set()
    for url, data in served:
        with Image.open(io.BytesIO(data)) as image:
            formats.add((image.format, image.size, image.mode, len(data)))
            assert not {k for k in image.info if k not in ("compression", "dpi")}  # no metadata of any kind
        folder, name = url.rsplit("/", 1)
        assert folder == "review/image" and re.fullmatch("[0-9a-f]{64}[.]bmp", name)  # a content hash, nothing else
        assert not any(word in url.lower() for word in forbidden if len(word) > 3)
    assert len(formats) == 1  # same format, dimensions, mode and byte size for every image of both arms
    fmt, size, _, length = formats.pop()
    assert fmt == "BMP" and size[0] == size[1] and length == 54 + size[1] * ((size[0] * 3 + 3) // 4 * 4)  # uncompressed


@pytest.mark.slow
def test_twenty_reviewers_at_once_store_every_rating_exactly_once(server, home):
    reviewers = [f"load{i:02d}" for i in range(20)]
    make_study(home, "load", 50, reviewers, seed=3)
    barrier = threading.Barrier(len(reviewers))

    def review(username: str) -> int:
        session = AppSession(server, username, f"password-{username}")
        outputs = session.call("review_start", "load")
        barrier.wait()  # everybody rates at the same time
        for i in range(100):
            outputs = session.call("review_save", *answers(("real", "synthetic")[i % 2], 1 + i % 7))
        assert "All 100 images are rated" in outputs[1]
        return 100

    with ThreadPoolExecutor(len(reviewers)) as pool:
        assert sum(pool.map(review, reviewers)) == 2000
    with database(home) as db:
        study = db.execute("SELECT id FROM studies WHERE name = 'load'").fetchone()[0]
        assert db.execute(
            "SELECT count(*), count(DISTINCT reviewer_id || '/' || image_id) FROM ratings WHERE study_id = ?", [study]
        ).fetchone() == (2000, 2000)
        assert db.execute("SELECT count(*) FROM rating_history WHERE study_id = ?", [study]).fetchone()[0] == 2000
        assert db.execute("SELECT max(revision) FROM ratings WHERE study_id = ?", [study]).fetchone()[0] == 1
        per_reviewer = db.execute("SELECT count(*) FROM ratings WHERE study_id = ? GROUP BY reviewer_id", [study]).fetchall()
        assert [n for (n,) in per_reviewer] == [100] * 20


OPEN_AND_CLOSE = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM ratings').fetchone(); c.close()"


@pytest.mark.slow
def test_the_probe_database_path_typed_other_processes_and_a_kill_lose_no_acknowledged_rating(server, home, tmp_path):
    """The probe's scenario: 20 reviewers saving, an admin typing the database's path into every manifest box, another
    process opening and closing the database (a CLI, a backup script), then SIGKILL and a restart: every rating the
    server acknowledged is stored, exactly once, and the restarted server continues a reviewer at their first unrated
    image with their earlier answers. (Before, the admin's typing dropped the server's SQLite locks, the
    other process then deleted the write-ahead log under it, and the saves that followed vanished at restart.)"""
    # A workspace of its own, with the defaults the module's server made in its first start.
    home = with_embedded_defaults(tmp_path / "probe", [home / "phantoms", home / "synthetic"], started=home)
    reviewers = [f"probe{i:02d}" for i in range(20)]
    review_db = str(home / "review.db")
    with running_app(home) as app:  # the only server on this workspace: nothing else holds the database's locks
        make_study(home, "probe", 5, [], seed=13)
        enrolling = ReviewStore(home / "review.db")  # 20 accounts at once, then this process lets go of the database
        for name in reviewers:
            add_reviewer(enrolling, "probe", name, f"password-{name}")
        enrolling.close()
        admin = AppSession(app.admin_url, "admin", demo_credentials(home)["admin"])
        acknowledged: dict[str, list[int]] = {name: [] for name in reviewers}
        sessions = {name: AppSession(app.url, name, f"password-{name}") for name in reviewers}
        for session in sessions.values():
            session.call("review_start", "probe")
        typed = threading.Event()
        stop = threading.Event()

        def review(name: str) -> None:
            for i in range(10):
                if i == 3:
                    typed.wait(120)  # the rest is saved after the admin typed the path and other processes came and went
                try:
                    sessions[name].call("review_save", *answers(("real", "synthetic")[i % 2], 1 + i % 7))
                except (CallError, requests.RequestException):
                    return  # the server was killed under this save: not acknowledged
                acknowledged[name].append(1 + i % 7)

        opened_and_closed = []

        def other_processes() -> None:
            while not stop.is_set():
                opened_and_closed.append(subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, review_db], check=False, timeout=60))

        with ThreadPoolExecutor(len(reviewers) + 1) as pool:
            saving = [pool.submit(review, name) for name in reviewers]
            for event, inputs in {"data_open": [review_db, None], "generate_sources": [review_db], "quality_run": [review_db, review_db],
                                  "study_create": ["typed", review_db, review_db, 2, 0, False, 0, False, 0, "", 0, False]}.items():
                assert "never read as a manifest" in str(admin.call(event, *inputs)), event
            backups = pool.submit(other_processes)
            while len(opened_and_closed) < 3 and not backups.done():  # a few opens and closes under the running server first
                time.sleep(0.02)
            typed.set()
            while sum(map(len, acknowledged.values())) < 150:  # mid-burst: some reviewers are saving right now
                time.sleep(0.02)
            os.kill(app.process.pid, signal.SIGKILL)
            app.process.wait(10)
            for future in saving:
                future.result()
            stop.set()
            backups.result()
    assert sum(map(len, acknowledged.values())) >= 150
    (home / "demo-credentials.txt").write_text("admin     admin / kept-by-an-old-version\n")
    logged_before = len((home / "serve.log").read_text())
    with running_app(home) as restarted:
        restart_log = (home / "serve.log").read_text()[logged_before:]
        with database(home) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = {name: [realism for (realism,) in db.execute(
                "SELECT r.realism FROM ratings r JOIN accounts a ON a.id = r.reviewer_id JOIN studies s ON s.id = r.study_id"
                " JOIN assignments g ON g.reviewer_id = r.reviewer_id AND g.image_id = r.image_id AND g.study_id = r.study_id"
                " WHERE a.username = ? AND s.name = 'probe' ORDER BY g.position", [name])] for name in reviewers}
            history = db.execute("SELECT count(*), count(DISTINCT reviewer_id || '/' || image_id) FROM rating_history h"
                                 " JOIN studies s ON s.id = h.study_id WHERE s.name = 'probe'").fetchone()
        resumed = max((name for name in reviewers if len(stored[name]) < 10), key=lambda name: len(stored[name]))
        session = AppSession(restarted.url, resumed, f"password-{resumed}")
        opened = session.call("review_start", "probe")[1]
        back = session.call("review_back", None)
    rated = len(stored[resumed])  # the most any reviewer still rating had stored
    assert rated >= 1 and f"Image {rated + 1} of 10 · <b>{rated} / 10</b>" in opened  # continues at the first unrated image
    assert back[4] == ("real", "synthetic")[(rated - 1) % 2] and back[5] == str(stored[resumed][-1])  # earlier answers kept
    for name in reviewers:  # every acknowledged save is there, in order; at most the one in flight at the kill besides
        assert stored[name][:len(acknowledged[name])] == acknowledged[name], name
        assert len(stored[name]) - len(acknowledged[name]) in (0, 1), name
    assert history[0] == history[1] == sum(map(len, stored.values()))  # each stored once, no duplicate revision
    # The demo passwords were printed once, by the start that made the accounts; a restart prints none and keeps no file.
    assert len(re.findall(r"^admin +admin / \S+$", (home / "serve.log").read_text(), flags=re.MULTILINE)) == 1
    assert "fairskin study reset-password --username NAME --password-stdin" in (home / "serve.log").read_text()
    assert "Demo accounts" not in restart_log and demo_credentials(home)["admin"] not in restart_log
    assert f"removed {home / 'demo-credentials.txt'}" in restart_log and not (home / "demo-credentials.txt").exists()


ADMIN_EVENTS = {
    "data_open", "data_filter", "data_page", "data_select", "study_create", "study_enrol", "study_export", "dashboard_refresh",
    "quality_run", "generate_model", "generate_run", "generate_add", "data_skin_types", "data_audit", "data_audit_save",
}


def test_a_reviewer_reaches_no_admin_endpoint_key_export_or_other_answers(server, home):
    make_study(home, "guarded", 4, ["peer", "snoop"], seed=6)
    admin_url = f"{server}admin/"
    admin = AppSession(admin_url, "admin", demo_credentials(home)["admin"])
    peer = AppSession(server, "peer", "password-peer")
    peer.call("review_start", "guarded")
    peer.call("review_save", *answers("synthetic", 7))
    exported = admin.call("study_export", "guarded")
    assert sorted(file["orig_name"] for file in exported[0]) == [  # the admin gets the export: the CSV files, the iMRMC file
        "imrmc_key.csv", "ratings.csv", "ratings.imrmc", "reviewer_summary.csv", "study_summary.csv"]
    dashboard = admin.call("dashboard_refresh", "guarded")
    assert "**1 ratings** by 1 reviewers of 1 images" in dashboard[0] and "Synthetic is the positive class" in dashboard[0]
    assert "*What reviewers saw:* every image shown at 64 × 64 px" in dashboard[0] and "real arm natively 128–128 px" in dashboard[0]
    assert ADMIN_EVENTS <= set(admin.events)

    snoop = AppSession(server, "snoop", "password-snoop")
    assert not ADMIN_EVENTS & set(snoop.events)  # the reviewers' app has no admin event to call
    with pytest.raises(CallError, match="login as 'snoop' failed"):
        AppSession(admin_url, "snoop", "password-snoop")  # the admins' app lets no reviewer sign in
    real, synthetic = arm_manifests(home)
    for event, inputs in {"study_create": ["stolen", str(real), str(synthetic), 2, 0, False, 0, False, 0, "", 0, False],
                          "study_enrol": ["guarded", "mole", "password-mole", ""], "study_export": ["guarded"]}.items():
        joined = snoop.http.post(f"{admin_url}gradio_api/queue/join", timeout=30, json={  # the reviewer's cookie, an admin event
            "data": inputs, "event_data": None, "fn_index": admin.events[event], "trigger_id": None, "session_hash": "snoop"})
        assert joined.status_code == 401, event
    assert snoop.get(f"{admin_url}config").status_code == 401
    with database(home) as db:
        assert db.execute("SELECT count(*) FROM studies WHERE name = 'stolen'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM accounts WHERE username = 'mole'").fetchone()[0] == 0

    # The key and the study files are never served, whatever path is asked for, by either app.
    for path in [home / "review.db", home / "demo-credentials.txt", next((home / "studies" / "guarded" / "images").iterdir()), real]:
        assert snoop.get(f"/gradio_api/file={path}").status_code in (401, 403, 404), path
        assert snoop.get(f"/admin/gradio_api/file={path}").status_code in (401, 403, 404), path
        assert snoop.get(f"/review/image/{path.name}").status_code == 404, path
    # Another reviewer's answers: the snoop's own first image shows no answers, and nothing takes a username.
    outputs = snoop.call("review_start", "guarded")
    assert outputs[4:10] == [None] * 6
    with pytest.raises(CallError):
        snoop.call("review_start", "e2e-not-mine")


def test_a_new_password_or_a_disabled_account_signs_out_the_browsers_signed_in_before(server, home):
    """A reviewer's old sign-in stops at its next request, whether the admin acted in the app or with the command line."""
    make_study(home, "cut-off", 2, ["eve", "fay"], seed=9)
    eve = AppSession(server, "eve", "password-eve")
    image = served_image_url(eve.call("review_start", "cut-off")[3])
    eve.call("review_save", *answers("real", 4))
    changed = fairskin(home, "study", "reset-password", "--username", "eve", "--password-stdin", stdin="a brand new password\n")
    assert changed.returncode == 0, changed.stderr  # another process than the server's, as an admin at a terminal
    with pytest.raises(CallError, match="join refused with 401"):
        eve.call("review_save", *answers("synthetic", 6))
    assert eve.get("/config").status_code == 401 and eve.get(f"/{image}").status_code == 401
    again = AppSession(server, "eve", "a brand new password")
    assert "Image 2 of 4" in again.call("review_start", "cut-off")[1]  # the new sign-in continues where the old one was

    admin = AppSession(f"{server}admin/", "admin", demo_credentials(home)["admin"])
    fay = AppSession(server, "fay", "password-fay")
    fay.call("review_start", "cut-off")
    admin.call("study_disable_reviewer", "fay", "cut-off")
    with pytest.raises(CallError, match="join refused with 401"):
        fay.call("review_save", *answers("real", 2))
    admin.call("study_enable_reviewer", "fay", "cut-off")
    with pytest.raises(CallError, match="join refused with 401"):  # enabled again: the old sign-in stays ended
        fay.call("review_save", *answers("real", 2))
    assert saved_ratings(home, "eve", "cut-off", "call, realism") == [("real", 4)]
    assert saved_ratings(home, "fay", "cut-off", "call, realism") == []
    assert AppSession(server, "fay", "password-fay").call("review_start", "cut-off")  # a fresh sign-in works


@pytest.mark.browser
def test_a_reviewer_signed_out_while_rating_is_told_so_and_signs_in_again(browser, server, home):
    expect = pytest.importorskip("playwright.sync_api").expect
    page = reviewing(browser, server, home, "signed-out", "gus", viewport=(1366, 768))
    answer(page, "s", 4, "yes")  # the answer on screen when the admin changes the password
    changed = fairskin(home, "study", "reset-password", "--username", "gus", "--password-stdin", stdin="a brand new password\n")
    assert changed.returncode == 0, changed.stderr
    # The page asks the server when Save & next is pressed, and every 10 s: the notice may cover the page already, so the
    # press goes to the button itself, not to whatever is on top of it.
    page.locator("#save-next").dispatch_event("click")
    notice = page.locator("#review-signed-out")
    expect(notice).to_contain_text("You have been signed out", timeout=30_000)
    expect(notice).to_contain_text("The answer on screen was not saved")
    assert saved_ratings(home, "gus", "signed-out", "call") == []
    notice.get_by_role("button", name="Sign in again").click()
    expect(page.get_by_role("button", name="Login")).to_be_visible(timeout=30_000)
    page.get_by_label("username").fill("gus")
    page.get_by_label("password").fill("a brand new password")
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#signed-in")).to_contain_text("gus", timeout=30_000)
    page.close()


def test_a_reviewers_browser_receives_nothing_of_the_admin_tools_or_the_servers_folders(server, home):
    """Everything a reviewer's browser gets (the page, its config, every answer of the server) is read for traces."""
    make_study(home, "plain", 3, ["reader"], seed=8)
    admin = AppSession(f"{server}admin/", "admin", demo_credentials(home)["admin"])
    reader = AppSession(server, "reader", "password-reader")
    received = [reader.get("/").text, reader.get("/config").text, json.dumps(reader.page)]
    outputs = reader.call("review_start", "plain")
    for i in range(6):
        received.append(json.dumps(outputs))
        received.append(reader.get(f"/{served_image_url(outputs[3])}").headers.get("content-disposition") or "")
        outputs = reader.call("review_save", *answers("real", 1 + i))
    received.append(json.dumps(reader.call("review_back", None)))
    everything = "\n".join(received)

    admin_ids = {c["props"].get("elem_id") for c in admin.config["components"]} - {None, "signed-in"}
    reviewer_ids = {c["props"].get("elem_id") for c in reader.config["components"]}
    assert admin_ids and not admin_ids & reviewer_ids and not any(f'"{i}"' in everything for i in admin_ids)
    real, synthetic = arm_manifests(home)
    for trace in (str(home), str(REPO), "/tmp", "manifest.csv", real.parent.name, synthetic.parent.name, "phantoms", "studies/"):
        assert trace not in everything, trace
    images = re.findall(r'(?:src|data-next)=\\"([^"\\]+)\\"', "".join(received[3:]))  # in the image frames the server sent
    assert images and all(re.fullmatch("review/image/[0-9a-f]{64}[.]bmp", url) for url in images)


def test_bad_requests_change_nothing(server, home):
    make_study(home, "strict", 3, ["careful"], seed=7)
    session = AppSession(server, "careful", "password-careful")
    session.call("review_start", "strict")
    for bad in (answers("real", 4)[:2] + ["9"] + ANSWER + ["", None], [None, "maybe", "4", *ANSWER, "", None]):
        with pytest.raises(CallError, match="not in the list of choices"):
            session.call("review_save", *bad)
    outputs = session.call("review_save", None, "real", None, *ANSWER, "", None)  # a missing answer
    assert "Not saved" in outputs[-1] and "realism" in outputs[-1]
    with database(home) as db:
        assert db.execute(
            "SELECT count(*) FROM ratings r JOIN accounts a ON a.id = r.reviewer_id WHERE a.username = 'careful'"
        ).fetchone()[0] == 0

    real, synthetic = arm_manifests(home)
    too_big = fairskin(home, "study", "create", "--name", "huge", "--real", real, "--synthetic", synthetic, "--n-per-arm", 5000)
    matchable = min(len(pd.read_csv(real)), len(pd.read_csv(synthetic)))  # both arms balanced over FST × diagnosis
    assert too_big.returncode == 1 and f"only {matchable} images per arm can be matched" in too_big.stderr
    taken = fairskin(home, "study", "create", "--name", "strict", "--real", real, "--synthetic", synthetic, "--n-per-arm", 2)
    assert taken.returncode == 1 and "already exists" in taken.stderr
    no_password = fairskin(home, "study", "add-reviewer", "--name", "strict", "--username", "nopass")
    assert no_password.returncode == 1 and "--password-stdin" in no_password.stderr
    assert not (home / "studies" / "huge").exists()
