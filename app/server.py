"""One web server for both apps: the reviewer's page at ``/``, the admin tools at ``/admin/``.

Each app is mounted with its own sign-in: any account may sign in at ``/`` (an admin is pointed
to ``/admin/``), only admin accounts at ``/admin/``. Study images reach reviewers through one route
of our own, ``/review/image/<hash>.bmp``, which serves only the blinded copies, only to a signed-in
reviewer, under a name that says nothing of the server's folders.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import fastapi
import gradio as gr
import uvicorn
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.routing import Mount

from fairskin_core.defaults import default_synthetic_manifest_path
from fairskin_core.workspace import readable_roots, workspace_dir, workspace_root
from review_data.accounts import authenticate, role_of
from review_data.demo import ensure_demo_accounts
from review_data.store import ReviewStore, workspace_store, workspace_studies_dir

from .main import build_admin_app, build_reviewer_app, manifest_folders
from .review_page import CSS, HEAD, IMAGE_ROUTE, SERVED_FORMAT
from .sessions import SignedInSessions
from .startup import DefaultsPreparation

ADMIN_PATH = "/admin"
ADMIN_CSS = (Path(__file__).parent / "admin.css").read_text()
_SERVED_NAME = re.compile(rf"[0-9a-f]{{64}}\.{SERVED_FORMAT}")


def _signed_in_user(gradio_app, request: fastapi.Request) -> str | None:
    """The user a mounted Gradio app signed in, from its session cookie (as its own ``/user`` route reads it)."""
    cookie = f"access-token-{gradio_app.cookie_id}"
    token = request.cookies.get(cookie) or request.cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}")
    return gradio_app.tokens.get(token)


def _mounted(server: fastapi.FastAPI, path: str):
    return next(route.app for route in server.routes if isinstance(route, Mount) and route.path == path.rstrip("/"))


def _blocked_paths() -> list[str]:
    """Never served by either app, whatever a handler returns: the answer key, the study images, accounts."""
    root = workspace_root()
    return [str(workspace_studies_dir()), *(str(root / f"review.db{suffix}") for suffix in ("", "-wal", "-shm")),
            str(root / "demo-credentials.txt"), str(root / "phantoms")]


def build_server(
    store: ReviewStore,
    manifest: str | Path | None = None,
    synthetic_manifest: str | Path | None = None,
    roots: list[Path] | None = None,
    preparation: DefaultsPreparation | None = None,
) -> fastapi.FastAPI:
    """Both apps and the study-image route on one FastAPI app (run it with uvicorn)."""
    image_cache = workspace_dir("cache", "review-images")
    reviewer = build_reviewer_app(store, image_cache, preparation).queue(default_concurrency_limit=32)
    admin = build_admin_app(store, manifest, synthetic_manifest, roots, preparation).queue(default_concurrency_limit=32)
    server = fastapi.FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @server.get(f"/{IMAGE_ROUTE}/{{name}}")
    def study_image(name: str, request: fastapi.Request):
        if role_of(store, _signed_in_user(_mounted(server, "/"), request)) != "reviewer":
            return PlainTextResponse("Sign in as a reviewer to see study images.", status_code=401)
        path = image_cache / name
        if not _SERVED_NAME.fullmatch(name) or not path.is_file():
            return PlainTextResponse("No such image.", status_code=404)
        # Content-addressed: the same name is always the same bytes, so the browser may keep it.
        return FileResponse(path, media_type="image/bmp", headers={"Cache-Control": "private, max-age=86400, immutable"})

    @server.get("/startup-status")
    def startup_status():
        """Whether the first start's embedded defaults are ready (for scripts and tests waiting on them); nothing private."""
        return {"ready": preparation is None or preparation.ready, "finished": preparation is None or preparation.finished.is_set(),
                "status": preparation.status() if preparation else ""}

    common = {"show_error": True, "ssr_mode": False, "run_history": False, "blocked_paths": _blocked_paths()}
    gr.mount_gradio_app(
        server, admin, ADMIN_PATH, footer_links=["gradio"], **common, css=ADMIN_CSS,
        auth=lambda username, password: (user := authenticate(store, username, password)) is not None and role_of(store, user) == "admin",
        auth_message="Study admins sign in here. Reviewers: your page is at the server's address without /admin.",
    )
    gr.mount_gradio_app(
        server, reviewer, "/", footer_links=[], **common, head=HEAD, css=CSS,
        auth=lambda username, password: authenticate(store, username, password) is not None,
        auth_message="Sign in with the account your study admin gave you.",
    )
    for path in (ADMIN_PATH, "/"):  # a new password or a disabled account signs out the browsers already signed in
        _mounted(server, path).tokens = SignedInSessions(store)
    return server


def _log_to_stderr() -> None:
    """The app's own log lines (refused actions: one line each, faults: their traceback) on stderr, beside uvicorn's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    app_log = logging.getLogger(__package__)
    app_log.addHandler(handler)
    app_log.setLevel(logging.INFO)


def serve(host: str = "127.0.0.1", port: int = 7860, manifest: str | Path | None = None, data_roots: list[str | Path] = ()) -> None:
    """Start the app and block until it is stopped; on a first start the demo study is made in the background.

    The demo accounts are made before serving (instant), so the sign-in page works within seconds;
    the default phantoms and the demo's generated images follow on a thread (`app/startup.py`).
    ``data_roots``: folders beyond the workspace (and ``manifest``'s own) that admins may open manifests from."""
    _log_to_stderr()
    store = workspace_store()
    credentials = ensure_demo_accounts(store)
    preparation = DefaultsPreparation(store).start()
    roots = readable_roots([*data_roots, *(manifest_folders(manifest) if manifest else [])])
    server = build_server(store, manifest, default_synthetic_manifest_path(), roots, preparation)
    print("fairskin: admins may open manifests and images under " + ", ".join(map(str, roots)), flush=True)
    print(f"fairskin: reviewers open http://{host}:{port}/ , admins http://{host}:{port}{ADMIN_PATH}/ , and sign in.", flush=True)
    if credentials.exists():
        print(f"Demo accounts (from {credentials}):\n{credentials.read_text()}", flush=True)
    uvicorn.run(server, host=host, port=port, log_level="warning")
