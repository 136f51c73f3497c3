"""One generation at a time, in order: the Generate tab's requests as jobs on one worker thread.

A generation holds the GPU (or every CPU core) for its whole length, so the server runs one at a
time, whoever asked: a small request waits on the page that asked for it, a large one runs in
the background while the page shows its progress. Each job is a run folder
(`fairskin_core.generation.runs`), so a job the server was stopped in can be resumed later.
The last model used stays loaded for the next job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fairskin_core.generation.runs import GenerationRequest, load_request_backend, run_request, set_status

from .access import USER_MISTAKES

logger = logging.getLogger(__name__)


@dataclass
class Job:
    folder: Path
    request: GenerationRequest
    state: str = "queued"  # queued, running, finished, failed
    done: int = 0
    rate: float = 0.0  # images per second
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def total(self) -> int:
        return self.request.count

    def describe(self) -> str:
        """One line for the page: where the job is."""
        if self.state == "queued":
            return "waiting for the generation before it to finish"
        if self.state == "running":
            speed = f" · {self.rate:.2f} images/s" if self.rate else ""
            return f"{self.done} / {self.total} images{speed}"
        return "finished" if self.state == "finished" else f"failed: {self.error}"


class GenerationQueue:
    """Jobs run one after the other on a worker thread; ``allowed_roots`` are where tone transfer may read source images."""

    def __init__(self, allowed_roots: list[Path] | None = None):
        self.allowed_roots = allowed_roots
        self._jobs: dict[Path, Job] = {}
        self._waiting: queue.Queue[Job] = queue.Queue()
        self._loaded: tuple[tuple, object] | None = None  # (settings, backend) of the last model used
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, request: GenerationRequest, folder: Path) -> Job:
        """Queue ``request`` into its run ``folder`` (already made by `new_run`, or an unfinished one to resume)."""
        job = Job(Path(folder), request)
        with self._lock:
            self._jobs[job.folder] = job
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="fairskin-generation", daemon=True)
                self._worker.start()
        self._waiting.put(job)
        return job

    def job(self, folder: str | Path) -> Job | None:
        """The job of a run folder, if this server ran or is running it."""
        return self._jobs.get(Path(folder))

    def busy(self) -> Job | None:
        """The job running now, or the first one waiting."""
        pending = [job for job in self._jobs.values() if job.state in ("running", "queued")]
        return next((job for job in pending if job.state == "running"), pending[0] if pending else None)

    def _backend(self, request: GenerationRequest):
        settings = request.backend_settings()
        if self._loaded is None or self._loaded[0] != settings:
            self._loaded = None  # the previous model is released before the next one loads
            self._loaded = (settings, load_request_backend(request))
        return self._loaded[1]

    def _work(self) -> None:
        while True:
            job = self._waiting.get()
            job.state = "running"
            set_status(job.folder, "running")
            started = time.perf_counter()

            def progress(done: int, total: int, rate: float, job: Job = job) -> None:
                job.done, job.rate = done, rate

            try:
                run_request(job.request, job.folder, self._backend(job.request), allowed_roots=self.allowed_roots, progress=progress)
            except USER_MISTAKES as exc:
                logger.info("generation %s refused: %s", job.folder.name, exc)
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # a fault: logged whole; the page says it happened, the server goes on
                logger.exception("generation %s failed", job.folder.name)
                job.state, job.error = "failed", f"an internal error ({type(exc).__name__}: {exc}); the server log has the details"
            else:
                job.state, job.done = "finished", job.total
                logger.info("generation %s: %d images in %.1f s", job.folder.name, job.total, time.perf_counter() - started)
            set_status(job.folder, job.state, job.error)
            job.finished.set()
