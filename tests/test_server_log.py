"""The server log (issue 17): a user's mistake is one line with its reason, a fault in the code keeps its traceback."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gradio as gr
import pytest

from app.access import only
from app.messages import ask_for_missing
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from review_data.accounts import create_account
from review_data.store import ReviewStore

from .conftest import demo_credentials, running_app, sign_in
from .gradio_http import AppSession, CallError


@pytest.fixture
def store(tmp_path) -> ReviewStore:
    store = ReviewStore(tmp_path / "review.db")
    create_account(store, "chief", "password-chief", "admin")
    return store


def as_user(handler, *inputs, user: str = "chief"):
    """Run a wrapped handler as Gradio does for the signed-in ``user``."""
    return handler(*inputs, gr.Request(username=user))


def test_a_refusal_by_the_library_is_one_line_and_a_message_in_its_words(store, caplog):
    @only(store, "admin")
    def on_open(path: str, request: gr.Request):
        return read_manifest(path)

    caplog.set_level(logging.INFO, logger="app")
    with pytest.raises(gr.Error) as shown:
        as_user(on_open, "/nowhere/<b>m</b>.csv")
    assert shown.value.message == "/nowhere/&lt;b&gt;m&lt;/b&gt;.csv: manifest not found"  # the pop-up renders HTML: shown as typed
    assert shown.value.print_exception is False  # Gradio prints no traceback
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("INFO", "test_server_log.on_open refused for chief: /nowhere/<b>m</b>.csv: manifest not found", None)]


def test_our_own_refusals_and_a_wrong_role_are_logged_in_one_line_too(store, caplog):
    @only(store, "admin")
    def on_create(name: str, request: gr.Request):
        ask_for_missing((name, "Give the study a name."))
        return name

    caplog.set_level(logging.INFO, logger="app")
    with pytest.raises(gr.Error) as shown:
        as_user(on_create, " ")
    assert shown.value.message == "Give the study a name." and shown.value.print_exception is False
    with pytest.raises(gr.Error, match="needs a signed-in admin account"):
        as_user(on_create, "pilot", user="stranger")
    assert [r.getMessage() for r in caplog.records] == ["test_server_log.on_create refused for chief: Give the study a name.",
                                                        "test_server_log.on_create refused for stranger: needs a signed-in admin account"]


def test_a_fault_in_the_code_reaches_gradio_unchanged_for_its_traceback(store, caplog):
    @only(store, "admin")
    def on_mean(values: list, request: gr.Request):
        return sum(values) / len(values)  # a bug on an empty list

    caplog.set_level(logging.INFO, logger="app")
    with pytest.raises(ZeroDivisionError):
        as_user(on_mean, [])
    assert caplog.records == []


def new_lines(log: Path, start: int, wanted: str, timeout: float = 30) -> str:
    """What the server wrote to ``log`` after byte ``start``, once it holds ``wanted``."""
    deadline = time.monotonic() + timeout
    while wanted not in (written := log.read_text()[start:]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wanted in written, f"{wanted!r} not logged; the server wrote:\n{written}"
    return written


@pytest.mark.slow
@pytest.mark.browser
def test_the_server_logs_users_mistakes_in_one_line_and_faults_with_their_traceback(browser, started_home, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    phantoms = write_phantom_dataset(tmp_path / "data" / "set", n=12, preset="ddi", size=64, seed=4, workers=1)
    not_a_manifest = next((phantoms.parent / "images").iterdir())
    log = started_home / "serve.log"
    with running_app(started_home, "--data-root", str(phantoms.parent)) as app:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
        page.locator("#data-status").get_by_text("600 of 600 images match").wait_for(timeout=60_000)

        start = len(log.read_text())  # Data: a picture given as the manifest
        box = page.get_by_label("Manifest (CSV or Parquet)")
        box.fill(str(not_a_manifest))
        box.press("Enter")
        written = new_lines(log, start, f"data_tab.on_open refused for admin: {not_a_manifest}: this is not a manifest")
        assert written.count("\n") == 1 and "Traceback" not in written
        expect(page.locator("#data-message")).to_contain_text("this is not a manifest")

        start = len(log.read_text())  # Studies: a study without a name
        page.get_by_role("tab", name="Studies").click()
        page.get_by_text("Create a study", exact=True).click()
        page.get_by_role("button", name="Create study").click()
        expect(page.locator("#create-message")).to_have_text("Study not created: give the study a name.", timeout=30_000)
        written = new_lines(log, start, "studies_tab.on_create refused for admin: give the study a name.")
        assert written.count("\n") == 1 and "Traceback" not in written
        page.close()

        # A fault: the page only selects images it shows, so a selection past the gallery's end is a request no user
        # can make by mistake; it must keep its traceback.
        start = len(log.read_text())
        session = AppSession(app.admin_url, "admin", demo_credentials(started_home)["admin"])
        joined = session.http.post(f"{app.admin_url}gradio_api/queue/join", timeout=30, json={  # as the page sends a selection
            "data": [None, None], "event_data": {"index": 10_000, "value": None}, "fn_index": session.events["data_select"],
            "trigger_id": None, "session_hash": session.session_hash})  # (Gradio's documented API carries no event data)
        with pytest.raises(CallError):
            session.result("data_select", joined.json()["event_id"])
        written = new_lines(log, start, "IndexError: list index out of range")
        assert "Traceback (most recent call last)" in written and "in image_detail" in written and "refused" not in written
