"""Shared fixtures: a headless Chromium for browser tests and a running `fairskin serve`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# pytest-xdist runs one worker per core: each worker (and the servers it starts) gets its share of
# the cores for torch's threads, set before torch is imported, instead of every worker taking all.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))
# The whole test session gets a workspace of its own: never the developer's ~/.fairskin.
os.environ["FAIRSKIN_HOME"] = tempfile.mkdtemp(prefix="fairskin-tests-")
# Small real datasets beside the checkout (never copied into the repository).
REAL_SAMPLES = Path(os.environ.get("FAIRSKIN_REAL_SAMPLES") or REPO.parent / "shared" / "real_samples")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def source_tree_files() -> set[str]:
    """Every file of the checkout except .git, .venv and byte-code: nothing may add to it at run time."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache"}
    found = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        found.update(os.path.relpath(os.path.join(root, f), REPO) for f in files)
    return found


def real_sample(*parts: str) -> Path:
    """A file or folder of the real samples, or a skip that says where they were looked for."""
    path = REAL_SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real samples not available at {path} (set FAIRSKIN_REAL_SAMPLES)")
    return path


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (./bootstrap.sh test installs it when run as root)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def embedded_defaults(tmp_path_factory) -> list[Path]:
    """The folders a first start fills (the default phantom set, the demo's generated images) in this worker's workspace.

    Made once per test run, not once per xdist worker: the first worker to need them builds them in a workspace of the
    run's own (under a lock), and every worker copies them into its workspace."""
    from filelock import FileLock

    from fairskin_core.phantoms.workspace_sets import default_phantom_manifest
    from fairskin_core.workspace import Workspace
    from review_data.demo import default_synthetic_manifest

    run = tmp_path_factory.getbasetemp()
    shared = (run.parent if os.environ.get("PYTEST_XDIST_WORKER") else run) / "embedded-defaults-home"  # the run's, not a worker's
    mine = Path(os.environ["FAIRSKIN_HOME"])
    with FileLock(f"{shared}.lock"):
        made = Workspace(shared)
        built = [default_phantom_manifest(made.folder("phantoms")).parent, default_synthetic_manifest(made.folder("synthetic")).parent]
    for folder in built:
        if not (mine / folder.relative_to(shared)).exists():
            shutil.copytree(folder, mine / folder.relative_to(shared))
    return [mine / folder.relative_to(shared) for folder in built]


@pytest.fixture(scope="session")
def workspace_caches() -> dict:
    """This worker's workspace caches as `build_report` takes them, which `fairskin metrics` run by a test passes too: a
    set measured once in the worker (features, skin tone, a real set's diversity) is read back after."""
    from fairskin_core.measurement_cache import MeasurementCache
    from fairskin_core.metrics.features import FeatureCache
    from fairskin_core.workspace import Workspace

    workspace = Workspace.from_environment()
    return {"feature_cache": FeatureCache.of_workspace(workspace), "measurement_cache": MeasurementCache.of_workspace(workspace)}


@pytest.fixture
def started_home(embedded_defaults, tmp_path) -> Path:
    """A workspace that has rendered and generated the embedded defaults but holds no study yet.

    For tests of what comes after the first start (`test_first_start` tests the start itself).
    """
    return with_embedded_defaults(tmp_path / "home", embedded_defaults)


def with_embedded_defaults(home: Path, folders: list[Path], started: Path | None = None) -> Path:
    """Workspace ``home`` given a copy of embedded-default ``folders`` (the phantom set, the demo's generated images) from
    the workspace ``started`` that made them (default: the session's, see `embedded_defaults`); no database."""
    started = started or Path(os.environ["FAIRSKIN_HOME"])
    for folder in folders:
        shutil.copytree(folder, home / folder.relative_to(started))
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str  # the reviewers' page
    process: subprocess.Popen

    @property
    def admin_url(self) -> str:
        return f"{self.url}admin/"


@contextlib.contextmanager
def running_app(home: Path, *serve_args: str, startup_timeout: float = 300, wait_for_defaults: bool = True):
    """Run `fairskin serve` in its own process with workspace ``home``; yield its URL and process.

    The server answers before a first start's embedded defaults exist; unless ``wait_for_defaults``
    is off, wait until they (and the demo study) are ready too."""
    port = free_port()
    env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    log = open(home / "serve.log", "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *serve_args],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"fairskin serve exited early:\n{(home / 'serve.log').read_text()}")
            with contextlib.suppress(OSError):
                status = json.loads(urllib.request.urlopen(f"{url}startup-status", timeout=2).read())
                if status["finished"] or not wait_for_defaults:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"fairskin serve did not start:\n{(home / 'serve.log').read_text()}")
            time.sleep(0.5)
        yield RunningApp(url, process)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        process.kill()
        log.close()


def demo_credentials(home: Path) -> dict[str, str]:
    """username → password of the demo accounts the first `fairskin serve` on workspace ``home`` printed (once) in its log."""
    from app.server import printed_accounts

    return printed_accounts((home / "serve.log").read_text())


def sign_in(page, url: str, username: str, password: str) -> None:
    """Open the app in a Playwright ``page`` and sign in through its login form."""
    page.goto(url)
    page.get_by_label("username").fill(username)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


WORDS_BROKEN = """(table) => [...document.querySelectorAll(`${table} th`)].filter((th) => {
  const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT), tops = new Set();
  let words = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text || text === "⋮") continue;  // not the column menu's button
    words += text.split(/\\s+/).length;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
  }
  return tops.size > words;
}).map((th) => th.textContent.trim())"""  # the headers on more lines than they have words: a word broken inside
