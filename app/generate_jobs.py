"""One generation at a time, in order: the Generate tab's requests as jobs on one worker thread.

A generation holds the GPU (or every CPU core) for its whole length, so the server runs one at a
time, whoever asked: a small request waits on the page that asked for it, a large one runs in
the background while the page shows its progress. Each job is a run folder
(`fairskin_core.generation.run_folders`), so a job the server was stopped in can be resumed later.
The last model used stays loaded for the next job.

Each model's measured speed (images per second, of the last job that ran it) gives the time a new
request will take before it starts (`estimate_seconds`), and a job can be cancelled: a queued one
never starts, a running one stops after the batch it is making is saved, its folder resumable.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fairskin_core.errors import USER_MISTAKES
from fairskin_core.generation.run_folders import GenerationRequest, load_request_backend, run_request, set_status

from .messages import GENERATE_FIELDS, said

logger = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised between two saved batches of a job whose cancellation was asked for."""


@dataclass
class Job:
    folder: Path
    request: GenerationRequest
    state: str = "queued"  # queued, running, finished, failed, cancelled
    done: int = 0
    rate: float = 0.0  # images per second
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    cancel_asked: threading.Event = field(default_factory=threading.Event)

    @property
    def total(self) -> int:
        return self.request.count

    def describe(self, ahead: int = 0) -> str:
        """One line for the page: where the job is (``ahead``: the unfinished jobs that run before it)."""
        if self.state == "queued":
            return f"queued behind {ahead} other generation(s)" if ahead else "starting (loading the model)"
        if self.state == "running":
            speed = f" · {self.rate:.2f} images/s" if self.rate else ""
            left = f" · about {duration((self.total - self.done) / self.rate)} left" if self.rate and self.done < self.total else ""
            stopping = " · cancelling after the batch being made is saved" if self.cancel_asked.is_set() else ""
            return f"{self.done} / {self.total} images{speed}{left}{stopping}"
        if self.state == "cancelled":
            return f"cancelled at {self.done} / {self.total} images: those are kept, and Resume (History) makes the rest"
        return "finished" if self.state == "finished" else f"failed: {self.error}"


def duration(seconds: float) -> str:
    """A time span as a person reads it: "40 s", "12 min", "3 h 20 min", "2.9 days"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds / 86400:.1f} days"


def _steps(request: GenerationRequest) -> int:
    """The sampling steps an image of ``request`` costs (1 for the physically based transfer, which samples nothing)."""
    return 1 if request.physically_based else max(int(request.steps or 1), 1)


class GenerationQueue:
    """Jobs run one after the other on a worker thread; ``allowed_roots`` are where tone transfer may read source images."""

    def __init__(self, allowed_roots: list[Path] | None = None):
        self.allowed_roots = allowed_roots
        self._jobs: dict[Path, Job] = {}
        self._waiting: queue.Queue[Job] = queue.Queue()
        self._loaded: tuple[tuple, object] | None = None  # (settings, backend) of the last model used
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._speeds: dict[tuple, float] = {}  # images per second of each model's last job (its backend settings)

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

    def estimate_seconds(self, request: GenerationRequest) -> tuple[float, float] | None:
        """(seconds, images per second) ``request`` would take at its model's speed measured on this server (scaled to its
        sampling steps); None while that model has not run here."""
        speed = self._speeds.get(request.backend_settings())
        if not speed:
            return None
        rate = speed / _steps(request)
        return request.count / rate, rate

    def cancel(self, folder: str | Path) -> Job | None:
        """Ask the job of ``folder`` to stop: a queued job never starts, a running one stops after its current batch is saved."""
        job = self.job(folder)
        if job is not None and not job.finished.is_set():
            job.cancel_asked.set()
        return job

    def describe(self, job: Job) -> str:
        """The job's line, a queued one saying how many run before it."""
        pending = [other for other in self._jobs.values() if not other.finished.is_set()]
        return job.describe(ahead=pending.index(job) if job in pending else 0)

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
            if job.cancel_asked.is_set():  # cancelled while it waited: nothing was made
                job.state = "cancelled"
                set_status(job.folder, job.state)
                job.finished.set()
                continue
            job.state = "running"
            set_status(job.folder, "running")
            started = time.perf_counter()

            def progress(done: int, total: int, rate: float, job: Job = job) -> None:
                job.done, job.rate = done, rate
                if rate:
                    self._speeds[job.request.backend_settings()] = rate * _steps(job.request)  # image-steps per second
                if job.cancel_asked.is_set() and done < total:  # the batch just made is saved: stop here
                    raise Cancelled

            try:
                run_request(job.request, job.folder, self._backend(job.request), allowed_roots=self.allowed_roots, progress=progress)
            except Cancelled:
                logger.info("generation %s cancelled at %d / %d images", job.folder.name, job.done, job.total)
                job.state = "cancelled"
            except USER_MISTAKES as exc:
                logger.info("generation %s refused: %s", job.folder.name, exc)
                job.state, job.error = "failed", said(exc, GENERATE_FIELDS)
            except Exception as exc:  # a fault: logged whole; the page says it happened, the server goes on
                logger.exception("generation %s failed", job.folder.name)
                job.state, job.error = "failed", f"an internal error ({type(exc).__name__}: {exc}); the server log has the details"
            else:
                job.state, job.done = "finished", job.total
                logger.info("generation %s: %d images in %.1f s", job.folder.name, job.total, time.perf_counter() - started)
            set_status(job.folder, job.state, job.error)
            job.finished.set()
