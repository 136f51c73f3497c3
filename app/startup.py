"""The first start: serve at once, prepare the embedded defaults in the background, and say how far it is.

A fresh workspace needs the default phantom set rendered and the demo's images generated
(minutes on a 2-core machine). Nothing of that is needed to sign in, so `fairskin serve` creates
the demo accounts (instant), starts serving, and renders the rest on a thread; the admin app and
the reviewer page show `DefaultsPreparation.status()` until it is done, then fill themselves.
"""

from __future__ import annotations

import logging
import threading
import time

from fairskin_core.workspace import Workspace
from review_data.demo import ensure_demo_study
from review_data.store import ReviewStore

logger = logging.getLogger(__name__)


class StartupProgress:
    """Prints the first start's slow work (phantoms, the demo's generated images) at most every 5 s, and when done."""

    def __init__(self) -> None:
        self.last_print = 0.0

    def __call__(self, task: str, done: int, total: int) -> None:
        if total and (done == total or time.monotonic() - self.last_print >= 5):
            self.last_print = time.monotonic()
            print(f"{task} into the workspace: {done}/{total}", flush=True)


class DefaultsPreparation:
    """Renders the demo's phantoms and generated images into ``workspace`` on a thread; ``status()`` says where it is."""

    def __init__(self, store: ReviewStore, workspace: Workspace):
        self.store, self.workspace = store, workspace
        self.task, self.done, self.total = "starting", 0, 0
        self.error: str | None = None
        self.finished = threading.Event()
        self._print = StartupProgress()

    def start(self) -> DefaultsPreparation:
        threading.Thread(target=self._run, name="fairskin-defaults", daemon=True).start()
        return self

    @property
    def ready(self) -> bool:
        return self.finished.is_set() and self.error is None

    def _progress(self, task: str, done: int, total: int) -> None:
        self.task, self.done, self.total = task, done, total
        self._print(task, done, total)

    def _run(self) -> None:
        try:
            ensure_demo_study(self.store, self.workspace, progress=self._progress)
        except Exception as exc:  # shown in the app and printed; the server keeps serving what it can
            logger.exception("preparing the embedded defaults failed")
            self.error = f"{type(exc).__name__}: {exc}"
        else:
            print("fairskin: the embedded defaults and the demo study are ready.", flush=True)
        finally:
            self.finished.set()

    def status(self) -> str:
        """One line for the page: empty once ready."""
        if self.error:
            return (f"**Preparing the embedded defaults failed** ({self.error}). The tools work on your own manifests; "
                    "restart `fairskin serve` to try again.")
        if self.finished.is_set():
            return ""
        counted = f" {self.done} / {self.total}" if self.total else ""
        return (f"**First start: preparing the embedded defaults** — {self.task}{counted}. "
                "The demo data and the demo study appear here when it is done.")
