"""Run folders: each Generate-tab request in a folder of its own, its settings and status beside its images.

The Generate tab keeps every request it runs (a few images or 60,000) as a run folder: `run.json`
(the request, the `fairskin` command that does the same, when it was made, its status) next to
the `images/` and `manifest.csv` that `generate_images` or `tone_transfer_set` write. So recent
runs can be listed and re-opened, an interrupted one resumed (the same call skips the images
already there), and any run downloaded as one zip of its images and manifest. The models (torch,
diffusers) are imported by `load_request_backend` and `run_request`, which run them: the web app
lists, checks and keeps runs without them.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_file
from ..diffusion.sampling_settings import DEFAULT_SCHEDULER, DEFAULT_STEPS, MAX_STEPS, SCHEDULER_NAMES, TONE_TRANSFER
from ..fst import FST_TYPES
from ..manifest import read_manifest
from ..numbers import whole_number
from .melanin_transfer import MelaninToneTransfer
from .sd_tone_transfer import StableDiffusionToneTransfer, check_strength
from .tone_transfer import tone_transfer_set

if TYPE_CHECKING:
    from .backends import GenerationBackend

RUN_FILE = "run.json"
MAX_IMAGES = 100_000  # more in one request is a typo, not a dataset (the research plan's largest is 60,000)


@dataclass(frozen=True)
class GenerationRequest:
    """What to make: ``n`` images of skin type ``fst`` and ``diagnosis`` with fairskin's ``model`` (None: the shipped one)
    or the Stable Diffusion pipeline ``stable_diffusion`` (with ``loras`` and ``textual_inversions``); or, given
    ``source_manifest``, its ``source_ids`` images redrawn on skin type ``fst`` (tone transfer: physically based, or with
    ``stable_diffusion`` img2img)."""

    fst: int
    diagnosis: str | None = None
    n: int = 8
    seed: int = 0
    model: str | None = None
    stable_diffusion: str | None = None
    loras: tuple[tuple[str, float], ...] = ()
    textual_inversions: tuple[str, ...] = ()
    allow_download: bool = False
    steps: int = DEFAULT_STEPS
    guidance: float | None = None  # None: the model kind's default (generate_images)
    scheduler: str = DEFAULT_SCHEDULER
    size: int | None = None  # None: the model's own
    source_manifest: str | None = None
    source_ids: tuple[str, ...] = ()
    strength: float = TONE_TRANSFER["strength"]

    @property
    def kind(self) -> str:
        return "tone-transfer" if self.source_manifest else "stable-diffusion" if self.stable_diffusion else "fairskin"

    @property
    def physically_based(self) -> bool:
        """A tone transfer without Stable Diffusion: no model to load, nothing denoised."""
        return self.kind == "tone-transfer" and not self.stable_diffusion

    @property
    def count(self) -> int:
        """How many images the request makes."""
        return len(self.source_ids) if self.kind == "tone-transfer" else self.n

    def check(self) -> GenerationRequest:
        """Refuse, in words, a request that cannot run, before any model is loaded or anything written."""
        if self.fst not in FST_TYPES:
            raise ValueError(f"skin type {self.fst}: a Fitzpatrick type is 1-6 (I-VI)")
        whole_number(self.seed, "the seed", 0, 2**31 - 1)
        whole_number(self.steps, "the number of steps", 1, MAX_STEPS)
        if self.guidance is not None and not 0 <= self.guidance <= 30:
            raise ValueError(f"guidance {self.guidance:g}: give a number from 0 to 30")
        if self.scheduler not in SCHEDULER_NAMES:
            raise ValueError(f"scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULER_NAMES)}")
        if self.kind == "tone-transfer":
            if not self.source_ids:
                raise ValueError("choose the source images to redraw")
            if self.stable_diffusion:
                check_strength(self.strength, self.steps)
        else:
            if not self.diagnosis:
                raise ValueError("choose a diagnosis")
            whole_number(self.n, "the number of images", 1, MAX_IMAGES)
        if self.size is not None and self.kind != "stable-diffusion":
            raise ValueError("an image size can be chosen for Stable Diffusion only (fairskin's models and tone transfer keep theirs)")
        return self

    def backend_settings(self) -> tuple:
        """What loading the model depends on: equal settings, the same loaded model (the physically based transfer has none)."""
        return self.physically_based, self.model, self.stable_diffusion, self.loras, self.textual_inversions, self.allow_download

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict) -> GenerationRequest:
        values = {**values, "loras": tuple((str(f), float(w)) for f, w in values.get("loras", ())),
                  "textual_inversions": tuple(values.get("textual_inversions", ())), "source_ids": tuple(values.get("source_ids", ()))}
        return cls(**values)


def load_request_backend(request: GenerationRequest, device: str | None = None) -> GenerationBackend | MelaninToneTransfer:
    """The model ``request`` runs on, loaded (a tone transfer without Stable Diffusion: the physically based one)."""
    if request.physically_based:
        return MelaninToneTransfer()
    from .backends import load_backend

    return load_backend(request.model, request.stable_diffusion, device=device, allow_download=request.allow_download,
                        loras=request.loras, textual_inversions=request.textual_inversions)


def run_request(request: GenerationRequest, folder: str | Path, backend: GenerationBackend, *,
                allowed_roots: list[Path] | None = None, progress: Callable[[int, int, float], None] | None = None) -> Path:
    """Make (or finish: resumable) ``request``'s images into ``folder`` with the loaded ``backend``; its manifest.

    The same calls as `fairskin generate` and `fairskin tone-transfer`. ``allowed_roots``: where a
    tone transfer's source manifest and images may be read from (the web app's rule)."""
    if request.kind == "tone-transfer":
        method = backend if isinstance(backend, MelaninToneTransfer) else StableDiffusionToneTransfer(
            backend, strength=request.strength, steps=request.steps, scheduler=request.scheduler,
            guidance=TONE_TRANSFER["guidance"] if request.guidance is None else request.guidance)
        return tone_transfer_set(method, request.source_manifest, folder, [request.fst], seed=request.seed,
                                 image_ids=request.source_ids, allowed_roots=allowed_roots, progress=progress)
    from .generate import PlanRequest, generate_images

    wanted = PlanRequest(fst=request.fst, diagnosis=request.diagnosis, n=request.n, seed=request.seed)
    return generate_images(folder, wanted, backend=backend, steps=request.steps, guidance=request.guidance, scheduler=request.scheduler,
                           size=request.size, progress=progress).manifest


@dataclass(frozen=True)
class RunRecord:
    """A run folder as `run.json` describes it, and how many of its images exist."""

    folder: Path
    request: GenerationRequest
    created: str
    status: str  # queued, running, finished, failed or cancelled (a "running" run of a stopped server is unfinished)
    error: str | None
    made: int

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.csv"


def new_run(request: GenerationRequest, runs: str | Path) -> Path:
    """A new run folder under ``runs`` for the (checked) ``request``, its `run.json` written; the folder."""
    request.check()
    folder = Path(runs) / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    _write(folder, {"request": request.to_json(), "created": time.strftime("%Y-%m-%d %H:%M:%S"), "status": "queued", "error": None})
    return folder


def set_status(folder: str | Path, status: str, error: str | None = None) -> None:
    """Record a run's status (and the reason it failed) in its `run.json`."""
    values = json.loads((Path(folder) / RUN_FILE).read_text())
    _write(Path(folder), {**values, "status": status, "error": error})


def _write(folder: Path, values: dict) -> None:
    with atomic_file(folder / RUN_FILE, "w") as handle:
        json.dump(values, handle, indent=1)


def read_run(folder: str | Path) -> RunRecord:
    folder = Path(folder)
    values = json.loads((folder / RUN_FILE).read_text())
    made = len(read_manifest(folder / "manifest.csv", check_files="exists").table) if (folder / "manifest.csv").is_file() else 0
    return RunRecord(folder, GenerationRequest.from_json(values["request"]), values["created"], values["status"],
                     values["error"], made)


def recent_runs(runs: str | Path, limit: int = 20) -> list[RunRecord]:
    """The newest ``limit`` runs under ``runs``, newest first (folders named by their start time)."""
    folders = sorted((p.parent for p in Path(runs).glob(f"*/{RUN_FILE}")), reverse=True)[:limit]
    return [read_run(folder) for folder in folders]


def zip_run(folder: str | Path, out: str | Path) -> Path:
    """One zip of a run: its manifest, the images it lists (their paths unchanged, so it reads as a manifest once
    unpacked) and `run.json`. PNGs are stored, not compressed again; written whole or not at all."""
    folder, out = Path(folder), Path(out)
    table = read_manifest(folder / "manifest.csv", check_files="exists").table
    with atomic_file(out, "wb") as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in ("manifest.csv", RUN_FILE):
            archive.write(folder / name, f"{folder.name}/{name}", compress_type=zipfile.ZIP_DEFLATED)
        for path in table["image_path"]:
            archive.write(folder / path, f"{folder.name}/{path}")
    return out
