"""Sign-in sessions of our own (`app.sessions`, `app.sign_in`), on two small Gradio apps mounted as the server mounts its own.

In this process, with no embedded defaults: the form a browser is sent to, the cookie, what a script gets, the
admins' app refusing a reviewer, sign-out, a new password ending a session, and the rules behind a proxy's prefix.
(`test_web_surface` and `test_review_app` check the same on the real server, over HTTP and in Chromium.)
"""

from __future__ import annotations

import fastapi
import gradio as gr
import pytest
from fastapi.testclient import TestClient

from app.sessions import Sessions
from app.sign_in import SignInApp, SignInFirst, add_sign_in
from app.web_guard import GuardedMount, WebGuard
from review_data.accounts import create_account, reset_password
from review_data.sign_in_throttle import SignInThrottle
from review_data.store import ReviewStore

PAGE = {"accept": "text/html,application/xhtml+xml"}  # what a browser's navigation and form asks for


def small_app(title: str) -> gr.Blocks:
    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        who = gr.Textbox()

        def signed_in(request: gr.Request):
            return request.username

        blocks.load(signed_in, None, who, api_name="page_load")
    return blocks


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ReviewStore:
    store = ReviewStore(tmp_path_factory.mktemp("sign-in") / "review.db")
    create_account(store, "chief", "password-chief", "admin")
    create_account(store, "ana", "password-ana", "reviewer")
    return store


@pytest.fixture(scope="module")
def server(store) -> fastapi.FastAPI:
    server = fastapi.FastAPI()
    reviewers = SignInApp("", Sessions(store, "fairskin-review"), ("admin", "reviewer"), "review", "Sign in, reviewers.")
    admins = SignInApp("/admin", Sessions(store, "fairskin-admin"), ("admin",), "admin", "Admins sign in here.")
    for app in (reviewers, admins):
        add_sign_in(server, store, app, SignInThrottle())
    gr.mount_gradio_app(server, small_app("admin"), "/admin", auth_dependency=admins.sessions.username, ssr_mode=False)
    gr.mount_gradio_app(server, small_app("review"), "/", auth_dependency=reviewers.sessions.username, ssr_mode=False)
    server.add_middleware(SignInFirst, pages={f"{app.prefix}/": app.sessions for app in (reviewers, admins)})
    server.add_middleware(WebGuard, mounts=[GuardedMount("", 64 * 1024, serves_files=False), GuardedMount("/admin", 1024 * 1024, True)])
    return server


def test_a_browser_is_sent_to_the_form_signs_in_and_comes_back_to_the_app(server):
    browser = TestClient(server, follow_redirects=False)
    for page, form in (("/", "login"), ("/admin/", "login"), ("/admin", "admin/login")):  # relative: also under a proxy's prefix
        sent = browser.get(page, headers=PAGE)
        assert (sent.status_code, sent.headers["location"]) == (303, form), page
    shown = browser.get("/admin/login", headers=PAGE)
    assert shown.status_code == 200 and "Admins sign in here." in shown.text and 'action="login"' in shown.text
    assert browser.get("/config").status_code == 401 and browser.get("/session").status_code == 401

    signed = browser.post("/login", data={"username": " ana ", "password": "password-ana"}, headers=PAGE)
    assert (signed.status_code, signed.headers["location"]) == (303, "./")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("fairskin-review=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert browser.get("/", headers=PAGE).status_code == 200 and browser.get("/session").status_code == 204
    assert browser.get("/config").json()["username"] == "ana"  # Gradio took the user from our session
    assert browser.get("/admin/config").status_code == 401  # the admins' app has sessions of its own

    wrong = browser.post("/login", data={"username": "ana", "password": "not hers"}, headers=PAGE)
    assert wrong.status_code == 400 and "Incorrect username or password." in wrong.text and "<form" in wrong.text


def test_a_script_gets_json_and_only_admins_sign_in_to_the_admins_app(server):
    script = TestClient(server, base_url="https://testserver")  # over HTTPS (directly, or X-Forwarded-Proto from a trusted proxy)
    refused = script.post("/admin/login", data={"username": "ana", "password": "password-ana"})
    assert refused.status_code == 400 and refused.json() == {"detail": "Incorrect username or password."}
    signed = script.post("/admin/login", data={"username": "chief", "password": "password-chief"})
    assert signed.status_code == 200 and signed.json() == {"success": True}
    assert signed.headers["set-cookie"].startswith("fairskin-admin=") and "Secure" in signed.headers["set-cookie"]
    assert script.get("/admin/config").status_code == 200 and script.get("/config").status_code == 401

    other = TestClient(server, base_url="https://testserver")  # the same admin in another browser
    other.post("/admin/login", data={"username": "chief", "password": "password-chief"})
    out = script.get("/admin/logout", follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (302, "./") and "fairskin-admin=" in out.headers["set-cookie"]
    assert script.get("/admin/config").status_code == 401
    assert other.get("/admin/config").status_code == 401  # signing out ends the account's sessions in that app


def test_a_new_password_ends_the_session_at_its_next_request(server, store):
    create_account(store, "bea", "password-bea", "reviewer")
    browser = TestClient(server, follow_redirects=False)
    browser.post("/login", data={"username": "bea", "password": "password-bea"})
    assert browser.get("/session").status_code == 204
    reset_password(store, "bea", "a brand new password")
    assert browser.get("/session").status_code == 401 and browser.get("/config").status_code == 401
    assert browser.get("/", headers=PAGE).headers["location"] == "login"
    browser.post("/login", data={"username": "bea", "password": "a brand new password"})
    assert browser.get("/session").status_code == 204


def test_behind_a_proxys_prefix_the_same_rules_hold(server):
    """uvicorn's --root-path puts the prefix in front of every path: the guard's rules and the sign-in apply to the rest."""
    proxied = TestClient(server, root_path="/fairskin", follow_redirects=False)
    assert proxied.get("/fairskin/gradio_api/token").status_code == 404
    assert proxied.get("/fairskin/admin/", headers=PAGE).headers["location"] == "login"
    assert proxied.get("/fairskin/logout", headers={"sec-fetch-site": "cross-site"}).status_code == 403
