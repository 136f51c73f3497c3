"""The Fairness tab's experiment as a background job: a request starts it and returns; the page follows it and may cancel it.

An experiment takes minutes to tens of minutes, far longer than a request should hold a
connection. One runs at a time, on its own thread, writing its report all or nothing
(`downstream_report`): a cancelled or failed run leaves no folder behind. Cancelling takes effect
at the experiment's next progress step (after the current set of features or model).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fairskin_core.downstream.report import downstream_report
from fairskin_core.downstream.settings import ExperimentSettings
from fairskin_core.errors import USER_MISTAKES

from .messages import FAIRNESS_FIELDS, said

logger = logging.getLogger(__name__)


class ExperimentCancelled(Exception):
    """Raised inside the experiment at its next step once Cancel was pressed."""


@dataclass
class ExperimentJob:
    name: str
    settings: ExperimentSettings
    state: str = "running"  # running, finished, failed, cancelled
    lines: list[str] = field(default_factory=list)
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> str:
        """One line for the page: where the experiment is."""
        elapsed = time.monotonic() - self.started
        if self.state == "running":
            latest = self.lines[-1] if self.lines else "starting"
            waiting = " · cancelling at the next step" if self.cancel.is_set() else ""
            return f"Experiment {self.name} running ({elapsed / 60:.0f} min): {latest}{waiting}"
        if self.state == "cancelled":
            return f"Experiment {self.name} cancelled; nothing was written."
        return f"Experiment {self.name} {self.state}."


class ExperimentRunner:
    """At most one experiment at a time, on a background thread; reports go to ``folder``/<name>. ``allow_download``: a frozen
    classifier's ImageNet weights may be fetched (not where the workspace is offline)."""

    def __init__(self, folder: Path, allowed_roots: list[Path] | None = None, allow_download: bool = True):
        self.folder, self.allowed_roots, self.allow_download = folder, allowed_roots, allow_download
        self.job: ExperimentJob | None = None
        self._lock = threading.Lock()

    def start(self, settings: ExperimentSettings, name: str) -> ExperimentJob:
        """Start ``settings`` (already checked) as report ``name``; refused while another runs."""
        with self._lock:
            if self.job is not None and self.job.state == "running":
                raise ValueError(f"experiment {self.job.name} is still running: wait for it, or cancel it")
            self.job = ExperimentJob(name, settings)
        threading.Thread(target=self._run, args=(self.job,), name=f"fairskin-experiment-{name}", daemon=True).start()
        return self.job

    def cancel(self) -> ExperimentJob | None:
        job = self.job
        if job is not None and job.state == "running":
            job.cancel.set()
        return job

    def _run(self, job: ExperimentJob) -> None:
        from fairskin_core.downstream.backbones import BackboneUnavailable  # torch and torchvision: with the first experiment

        def step(line: str) -> None:
            job.lines.append(line)
            if job.cancel.is_set():
                raise ExperimentCancelled

        try:
            downstream_report(job.settings, self.folder / job.name, progress=step, allowed_roots=self.allowed_roots,
                              allow_download=self.allow_download)
        except ExperimentCancelled:
            job.state = "cancelled"
        except (*USER_MISTAKES, BackboneUnavailable) as exc:
            logger.info("experiment %s refused: %s", job.name, exc)
            job.state, job.error = "failed", said(exc, FAIRNESS_FIELDS)
        except Exception as exc:  # a fault: logged whole; the page says it happened, the server goes on
            logger.exception("experiment %s failed", job.name)
            job.state, job.error = "failed", f"an internal error ({type(exc).__name__}: {exc}); the server log has the details"
        else:
            job.state = "finished"
        logger.info("experiment %s %s after %.0f s", job.name, job.state, time.monotonic() - job.started)
        job.finished.set()
