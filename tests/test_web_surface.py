"""The web surface, probed over HTTP as another site, a curious reviewer or a password guesser would.

One server runs for the module (on a workspace holding the embedded defaults); each test makes the
studies and accounts it needs as `fairskin study create` does (`make_study`). ``Host`` is set to a hospital's
name, as behind a reverse proxy: Gradio's own CORS rules trust any origin once the host is not localhost.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from .conftest import demo_credentials, running_app, with_embedded_defaults
from .gradio_http import AppSession
from .review_helpers import make_study
from .test_review_app import answers, served_image_url

HOST = "derm.hospital.example"
FOREIGN = "https://evil.example"


@pytest.fixture(scope="module")
def home(tmp_path_factory, embedded_defaults) -> Path:
    return with_embedded_defaults(tmp_path_factory.mktemp("surface"), embedded_defaults)


@pytest.fixture(scope="module")
def app(home):
    with running_app(home) as running:
        yield running


def admin_session(app, home) -> AppSession:
    return AppSession(app.admin_url, "admin", demo_credentials(home)["admin"])


def test_another_site_reads_nothing_and_cookies_stay_on_this_site(app, home):
    admin = admin_session(app, home)
    cookie = "; ".join(f"{c.name}={c.value}" for c in admin.http.cookies)  # the admin's browser, on another site's page
    for mount in ("", "admin/"):
        for path in ("config", "gradio_api/token", "gradio_api/queue/join", "login"):
            method = requests.post if path in ("gradio_api/queue/join", "login") else requests.get
            response = method(f"{app.url}{mount}{path}", headers={"Host": HOST, "Origin": FOREIGN, "Cookie": cookie}, timeout=30)
            assert response.status_code == 403, (mount, path, response.status_code)
            assert not any(h.lower().startswith("access-control-") for h in response.headers), (mount, path)
        preflight = requests.options(f"{app.url}{mount}gradio_api/queue/join", timeout=30, headers={
            "Host": HOST, "Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    # From the app's own page behind a proxy (Origin: the public name the proxy passes on as X-Forwarded-Host) it works.
    own = admin.http.get(f"{app.admin_url}config", headers={"X-Forwarded-Host": HOST, "Origin": f"https://{HOST}"}, timeout=30)
    assert own.status_code == 200 and "access-control-allow-origin" not in own.headers
    direct = app.url.rstrip("/")
    assert admin.http.get(f"{app.admin_url}config", headers={"Origin": direct}, timeout=30).status_code == 200
    # The token route that handed the session token to any page is closed on both mounts.
    assert admin.get(f"{app.admin_url}gradio_api/token").status_code == 404
    assert admin.get(f"{app.url}gradio_api/token").status_code == 404

    password = demo_credentials(home)["admin"]
    plain = requests.post(f"{app.admin_url}login", data={"username": "admin", "password": password}, timeout=30)
    behind_https = requests.post(f"{app.admin_url}login", data={"username": "admin", "password": password}, timeout=30,
                                 headers={"X-Forwarded-Proto": "https"})  # a TLS proxy on this machine (trusted by default)
    for response, secure in ((plain, False), (behind_https, True)):
        cookies = response.raw.headers.getlist("set-cookie")
        assert len(cookies) == 1 and all("samesite=lax" in c.lower() and "samesite=none" not in c.lower() for c in cookies)
        assert all(("; secure" in c.lower()) or not secure for c in cookies), cookies
        assert all("httponly" in c.lower() for c in cookies)


def test_every_answer_forbids_framing_and_sniffing(app, home):
    admin = admin_session(app, home)
    for url in (app.url, app.admin_url, f"{app.url}config", f"{app.url}startup-status", f"{app.url}review/image/x.bmp",
                f"{app.url}no-such-page", f"{app.admin_url}config"):
        response = admin.http.get(url, timeout=30)
        assert response.headers.get("x-frame-options") == "DENY", url
        assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), url
        assert response.headers.get("x-content-type-options") == "nosniff", url


def test_a_sign_out_link_on_another_site_signs_nobody_out(app, home):
    admin = admin_session(app, home)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Referer": f"{FOREIGN}/page"}):
        response = admin.http.get(f"{app.admin_url}logout", headers=headers, allow_redirects=False, timeout=30)
        assert response.status_code == 403, headers
        assert admin.get(f"{app.admin_url}config").status_code == 200  # still signed in
    own = admin.http.get(f"{app.admin_url}logout", headers={"Sec-Fetch-Site": "same-origin"}, allow_redirects=False, timeout=30)
    assert own.status_code == 302
    assert admin.get(f"{app.admin_url}config").status_code == 401


def test_a_reviewer_reaches_no_gradio_file_and_uploads_nothing(app, home):
    make_study(home, "filed", 2, ["curious"], seed=1)
    admin = admin_session(app, home)
    exported = admin.call("study_export", "filed")[0]
    ratings = next(f["path"] for f in exported if f["path"].endswith("ratings.csv"))
    assert admin.get(f"{app.admin_url}gradio_api/file={ratings}").status_code == 200  # the admin downloads the key
    reviewer = AppSession(app.url, "curious", "password-curious")
    for path in (f"gradio_api/file={ratings}", f"file={ratings}", f"gradio_api/file={home / 'review.db'}"):
        assert reviewer.get(f"/{path}").status_code == 404, path
    upload = reviewer.http.post(f"{app.url}gradio_api/upload", files={"files": ("x.png", b"0" * 1024)}, timeout=30)
    assert upload.status_code == 404
    assert admin.http.post(f"{app.admin_url}gradio_api/upload", files={"files": ("x.png", b"0")}, timeout=30).status_code == 404
    huge = reviewer.http.post(f"{app.url}gradio_api/queue/join", timeout=30, json={
        "data": ["x" * (5 * 1024 * 1024)], "fn_index": reviewer.events["review_start"], "session_hash": "big"})
    assert huge.status_code == 413
    assert reviewer.call("review_start", "filed")  # an ordinary request still works


def test_a_reviewer_fetches_only_images_of_their_own_studies(app, home):
    make_study(home, "ours", 2, ["insider"], seed=2)
    make_study(home, "theirs", 2, ["outsider"], seed=3)
    insider, outsider = AppSession(app.url, "insider", "password-insider"), AppSession(app.url, "outsider", "password-outsider")
    page = insider.call("review_start", "ours")[3]
    given = {served_image_url(page), served_image_url(page, "data-next")}  # the image shown and the one fetched ahead
    theirs, outputs = [], outsider.call("review_start", "theirs")
    for _ in range(4):
        theirs.append(served_image_url(outputs[3]))
        assert outsider.get(f"/{theirs[-1]}").status_code == 200
        outputs = outsider.call("review_save", *answers("real", 4))
    assert all(insider.get(f"/{url}").status_code == 200 for url in given)
    others = [url for url in theirs if url not in given]  # both studies draw from the demo's arms: a picture may be in both
    assert others and all(insider.get(f"/{url}").status_code == 404 for url in others)  # a reviewer, not of that study


def test_wrong_passwords_back_off_and_are_logged(app, home):
    make_study(home, "guarded-door", 1, ["target", "bystander"], seed=4)
    guesses = [requests.post(f"{app.url}login", data={"username": "target", "password": f"guess-{i}"}, timeout=30) for i in range(6)]
    assert [g.status_code for g in guesses] == [400] * 6
    started = time.monotonic()
    refused = requests.post(f"{app.url}login", data={"username": "target", "password": "password-target"}, timeout=30)
    assert refused.status_code == 400 and "Too many failed sign-ins" in refused.json()["detail"]  # the right password, too soon
    unknown = [requests.post(f"{app.url}login", data={"username": "nobody", "password": f"x{i}"}, timeout=30) for i in range(7)]
    assert "Too many failed sign-ins" in unknown[-1].json()["detail"]  # an unknown name backs off the same way
    assert AppSession(app.url, "bystander", "password-bystander")  # another account from the same address is not held up
    while True:  # the wait is 2 s after the sixth failure; past it, the right password signs in
        accepted = requests.post(f"{app.url}login", data={"username": "target", "password": "password-target"}, timeout=30)
        if accepted.status_code == 200 or time.monotonic() - started > 60:
            break
        time.sleep(0.5)
    assert accepted.status_code == 200 and time.monotonic() - started >= 1
    log = (home / "serve.log").read_text()
    assert len(re.findall(r"sign-in failed for 'target' from 127\.0\.0\.1 \(\d in a row\)", log)) == 6
    assert "sign-in refused for 'target' from 127.0.0.1: too many wrong passwords" in log


def test_unknown_events_and_api_descriptions_are_not_served(app, home):
    logged_before = len((home / "serve.log").read_text())
    admin = admin_session(app, home)
    make_study(home, "odd-events", 1, ["prober"], seed=5)
    for base, session in ((app.admin_url, admin), (app.url, AppSession(app.url, "prober", "password-prober"))):
        joined = session.http.post(f"{base}gradio_api/queue/join", timeout=30, json={
            "data": [], "event_data": None, "fn_index": 99999, "trigger_id": None, "session_hash": "odd"})
        assert joined.status_code == 404 and joined.json() == {"detail": "No such event in this app."}
    for url in (f"{app.url}openapi.json", f"{app.url}gradio_api/openapi.json", f"{app.admin_url}openapi.json",
                f"{app.admin_url}gradio_api/openapi.json"):
        assert admin.http.get(url, timeout=30).status_code == 404, url
    assert "KeyError" not in (home / "serve.log").read_text()[logged_before:]


def test_no_manifest_box_opens_the_review_database_or_a_nul_path(app, home):
    logged_before = len((home / "serve.log").read_text())
    admin = admin_session(app, home)
    database = str(home / "review.db")
    for event, inputs in {"data_open": [database, None], "generate_sources": [database], "quality_run": [database, database],
                          "study_create": ["from-db", database, database, 2, 0, False, 0, False, 0, "", 0, False],
                          "fairness_run": [database, database, database, "", ["mixed"], "test", 1, 10, 0, False, ""]}.items():
        outputs = str(admin.call(event, *inputs))
        assert "a database file is never read as a manifest" in outputs, event
    for event, inputs in {"data_open": ["/tmp/a\x00b.csv", None], "quality_run": ["/tmp/a\x00b.csv", database]}.items():
        outputs = str(admin.call(event, *inputs))
        assert "the path contains a NUL character" in outputs, event
    assert (home / "review.db-wal").exists()
    log = (home / "serve.log").read_text()[logged_before:]
    assert "refused for admin" in log and "Traceback" not in log and "embedded null byte" not in log

