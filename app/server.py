"""One web server for both apps: the reviewer's page at ``/``, the admin tools at ``/admin/``.

Each app has its own sign-in, with sessions of our own (`app.sign_in`, `app.sessions`): any account
may sign in at ``/`` (an admin is pointed to ``/admin/``), only admin accounts at ``/admin/``.
Study images reach reviewers through one route of our own, ``/review/image/<hash>.bmp``, which
serves only the blinded copies, only to a signed-in reviewer whose page was given that image, under
a name that says nothing of the server's folders. Every request passes `app.web_guard.WebGuard`
first: origins, cookies, headers, closed routes and body sizes (docs/deployment.md).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import fastapi
import gradio as gr
import uvicorn
from fastapi.responses import FileResponse, PlainTextResponse

from fairskin_core.workspace import ADMIN_DOWNLOADS, Workspace
from review_data.accounts import role_of
from review_data.demo import default_synthetic_manifest_path, ensure_demo_accounts, remove_old_credentials_file
from review_data.sign_in_throttle import SignInThrottle
from review_data.store import ReviewStore, workspace_store

from .downloads import remove_downloads
from .main import TITLE, build_admin_app, build_reviewer_app, manifest_folders
from .review_page import CSS, HEAD, IMAGE_ROUTE, SERVED_FORMAT, ShownImages
from .sessions import Sessions
from .settings import AppSettings
from .sign_in import SignInApp, SignInFirst, add_sign_in
from .startup import DefaultsPreparation
from .web_guard import GuardedMount, WebGuard

ADMIN_PATH = "/admin"
BACK_OFF = "After 5 wrong passwords, each new try waits longer (up to 15 minutes)."
REVIEWER_SIGN_IN = f"Sign in with the account your study admin gave you. {BACK_OFF}"
ADMIN_SIGN_IN = f"Study admins sign in here. Reviewers: your page is at the server's address without /admin. {BACK_OFF}"
ADMIN_CSS = (Path(__file__).parent / "admin.css").read_text()
_SERVED_NAME = re.compile(rf"[0-9a-f]{{64}}\.{SERVED_FORMAT}")


def _blocked_paths(workspace: Workspace) -> list[str]:
    """Never served by either app, whatever a handler returns: the database, the study images, the caches (all private
    state but the admin's downloads, which Gradio serves from), the phantoms."""
    return [*(str(p) for p in workspace.private_paths() if p.name != ADMIN_DOWNLOADS), str(workspace.root / "phantoms")]


def build_server(
    settings: AppSettings,
    store: ReviewStore,
    manifest: str | Path | None = None,
    synthetic_manifest: str | Path | None = None,
    roots: list[Path] | None = None,
    preparation: DefaultsPreparation | None = None,
    throttle: SignInThrottle | None = None,
) -> fastapi.FastAPI:
    """Both apps, as ``settings`` say, and the study-image route on one FastAPI app (run it with uvicorn), behind `WebGuard`."""
    image_cache = settings.review_images
    shown_images = ShownImages()
    reviewer = build_reviewer_app(settings, store, preparation, shown_images).queue(default_concurrency_limit=settings.concurrency)
    admin = build_admin_app(settings, store, manifest, synthetic_manifest, roots, preparation).queue(
        default_concurrency_limit=settings.concurrency)
    server = fastapi.FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # Any account signs in to the reviewers' app (an admin is pointed to /admin/), only admins to theirs.
    reviewers = SignInApp("", Sessions(store, "fairskin-review"), ("admin", "reviewer"), f"{TITLE} · review", REVIEWER_SIGN_IN)
    admins = SignInApp(ADMIN_PATH, Sessions(store, "fairskin-admin"), ("admin",), f"{TITLE} · admin", ADMIN_SIGN_IN)
    throttle = throttle or SignInThrottle()
    for app in (reviewers, admins):
        add_sign_in(server, store, app, throttle)

    @server.get(f"/{IMAGE_ROUTE}/{{name}}")
    def study_image(name: str, request: fastapi.Request):
        username = reviewers.sessions.username(request)
        if role_of(store, username) != "reviewer":
            return PlainTextResponse("Sign in as a reviewer to see study images.", status_code=401)
        path = image_cache / name
        # Only an image this reviewer's page was given: one of their own assignments, never another study's.
        if not _SERVED_NAME.fullmatch(name) or not shown_images.may_fetch(username, name) or not path.is_file():
            return PlainTextResponse("No such image.", status_code=404)
        # Content-addressed: the same name is always the same bytes, so the browser may keep it.
        return FileResponse(path, media_type="image/bmp", headers={"Cache-Control": "private, max-age=86400, immutable"})

    @server.get("/startup-status")
    def startup_status():
        """Whether the first start's embedded defaults are ready (for scripts and tests waiting on them); nothing private."""
        return {"ready": preparation is None or preparation.ready, "finished": preparation is None or preparation.finished.is_set(),
                "status": preparation.status() if preparation else ""}

    common = {"show_error": True, "ssr_mode": False, "run_history": False, "blocked_paths": _blocked_paths(settings.workspace)}
    # Gradio answers 401 to a browser without a session, and gives every handler the signed-in username (gr.Request).
    gr.mount_gradio_app(server, admin, ADMIN_PATH, footer_links=["gradio"], **common, css=ADMIN_CSS,
                        auth_dependency=admins.sessions.username)
    gr.mount_gradio_app(server, reviewer, "/", footer_links=[], **common, head=HEAD, css=CSS,
                        auth_dependency=reviewers.sessions.username)
    server.add_middleware(SignInFirst, pages={f"{app.prefix}/": app.sessions for app in (reviewers, admins)})
    server.add_middleware(WebGuard, mounts=[
        GuardedMount("", settings.reviewer_max_body, serves_files=False, events=_event_ids(reviewer)),
        GuardedMount(ADMIN_PATH, settings.admin_max_body, serves_files=True, events=_event_ids(admin)),
    ])
    return server


def _event_ids(blocks: gr.Blocks) -> frozenset[int]:
    """The ids of the events a mounted app's page may call (those its public ``/config`` lists)."""
    return frozenset(dependency["id"] for dependency in blocks.config["dependencies"])


def _log_to_stderr() -> None:
    """The app's own log lines (refused actions: one line each, faults: their traceback) on stderr, beside uvicorn's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    app_log = logging.getLogger(__package__)
    app_log.addHandler(handler)
    app_log.setLevel(logging.INFO)


def serve(settings: AppSettings, host: str = "127.0.0.1", port: int = 7860, manifest: str | Path | None = None,
          data_roots: list[str | Path] = (), root_path: str = "", forwarded_allow_ips: str | None = None) -> None:
    """Start the app on ``settings``' workspace and block until it is stopped; on a first start the demo study is made in the
    background.

    The demo accounts are made before serving (instant), so the sign-in page works within seconds;
    their passwords are printed on that start only. The default phantoms and the demo's generated
    images follow on a thread (`app/startup.py`). ``data_roots``: folders beyond the workspace and its own data roots (and
    ``manifest``'s own) that admins may open manifests from. Behind a reverse proxy (docs/deployment.md):
    ``root_path``, the prefix the proxy serves the app under, and ``forwarded_allow_ips``, the proxies
    whose ``X-Forwarded-For`` / ``-Proto`` headers are trusted (default 127.0.0.1)."""
    _log_to_stderr()
    root_path = f"/{root_path.strip('/')}" if root_path.strip("/") else ""
    workspace = settings.workspace
    store = workspace_store(workspace)
    created = ensure_demo_accounts(store)
    removed = remove_old_credentials_file(workspace)
    remove_downloads(settings.downloads)  # exports and reports of an earlier run (a killed server never swept them)
    preparation = DefaultsPreparation(store, workspace).start()
    roots = workspace.readable_roots([*data_roots, *(manifest_folders(manifest) if manifest else [])])
    server = build_server(settings, store, manifest, default_synthetic_manifest_path(workspace.folder("synthetic")), roots, preparation)
    print("fairskin: admins may open manifests and images under " + ", ".join(map(str, roots)), flush=True)
    if root_path:
        print(f"fairskin: listening on http://{host}:{port}/ for a reverse proxy that serves it under {root_path}/ : reviewers open "
              f"https://YOUR-SERVER{root_path}/ , admins https://YOUR-SERVER{root_path}{ADMIN_PATH}/ (docs/deployment.md).", flush=True)
    else:
        print(f"fairskin: reviewers open http://{host}:{port}/ , admins http://{host}:{port}{ADMIN_PATH}/ , and sign in.", flush=True)
    if removed:
        print(f"fairskin: removed {removed}, which kept the demo passwords in plain text; they are printed once now.", flush=True)
    if created:
        print("Demo accounts, created now (shown this once; change a password with "
              "`fairskin study reset-password --username NAME --password-stdin`):", flush=True)
        print("\n".join(f"{role:<9} {username} / {password}" for role, username, password in created), flush=True)
    uvicorn.run(server, host=host, port=port, log_level="warning", root_path=root_path, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips)


def printed_accounts(output: str) -> dict[str, str]:
    """username → password of the demo accounts a first start printed in ``output`` (for scripts reading its log)."""
    return {m[1]: m[2] for m in re.finditer(r"^(?:admin|reviewer) +(\S+) / (\S+)$", output, flags=re.MULTILINE)}
