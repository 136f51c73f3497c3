"""`fairskin generate` as library calls: `build_plan` says which images to make, `generate_images` makes them.

Which images is a `PlanRequest`: one skin type and diagnosis (``fst`` with ``diagnosis``) or a
mix of each (text as on the command line, ``"1:1,5:2"``, or a mapping ``{1: 1, 5: 2}``; by
default equal weights over the six types and the model's diagnoses), for ``n`` images or
``per_cell`` of every pair. `generate_images` takes it whole, with how to make the images (the
model, the sampler), and plans it for the model it loads. It runs under `accelerate launch` as
well: each process makes its share of the plan, and the main process merges the shares into
one manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from accelerate import PartialState

from ..diagnoses import DIAGNOSES
from ..diffusion.sampling_settings import DEFAULT_SCHEDULER, DEFAULT_STEPS, FST_GUIDANCE, SD_GUIDANCE
from ..errors import ParameterError
from ..fst import FST_TYPES
from ..mix import diagnosis_mix_of, parse_mix
from .backends import GenerationBackend, StableDiffusionBackend, load_backend
from .planned_set import PlannedImage, generate_set, merge_parts, plan_images, plan_per_cell

Mix = str | Mapping  # "KEY:WEIGHT,..." or {key: weight}


@dataclass(frozen=True)
class GeneratedSet:
    """What `generate_images` made: ``manifest`` is None on every process but the main one, which merges the shares."""

    manifest: Path | None
    images: int
    model_id: str


def _mix_text(mix: Mix | None, keys: tuple) -> str:
    """A mix as `parse_mix` reads it (so a mapping is checked the same way): as given, or equal weights over ``keys``."""
    if not mix:
        return ",".join(f"{key}:1" for key in keys)
    return mix if isinstance(mix, str) else ",".join(f"{key}:{weight}" for key, weight in mix.items())


@dataclass(frozen=True)
class PlanRequest:
    """Which images to make (module docstring); `build_plan` checks the combination and plans it."""

    fst: int | None = None
    diagnosis: str | None = None
    fst_mix: Mix | None = None
    diagnosis_mix: Mix | None = None
    diagnosis_mix_from: str | Path | None = None
    n: int | None = None
    per_cell: int | None = None
    seed: int = 0


def build_plan(request: PlanRequest, diagnoses: tuple[str, ...] = DIAGNOSES) -> list[PlannedImage]:
    """The images of ``request`` to a model that can make ``diagnoses``; wrong combinations refused by name."""
    if request.fst is not None or request.diagnosis is not None:
        if (request.fst is None or request.diagnosis is None or request.fst_mix or request.diagnosis_mix or request.diagnosis_mix_from
                or request.per_cell):
            raise ParameterError("{fst} and {diagnosis} go together, without {fst_mix}, {diagnosis_mix}, {diagnosis_mix_from} "
                                 "or {per_cell}",
                                 "fst", "diagnosis", "fst_mix", "diagnosis_mix", "diagnosis_mix_from", "per_cell")
        fst_weights = parse_mix(f"{request.fst}:1", FST_TYPES, "fst")
        diagnosis_weights = parse_mix(f"{request.diagnosis}:1", diagnoses, "diagnosis")
    else:
        if request.diagnosis_mix and request.diagnosis_mix_from:
            raise ParameterError("give {diagnosis_mix} or {diagnosis_mix_from}, not both", "diagnosis_mix", "diagnosis_mix_from")
        fst_weights = parse_mix(_mix_text(request.fst_mix, FST_TYPES), FST_TYPES, "fst_mix")
        diagnosis_weights = (diagnosis_mix_of(request.diagnosis_mix_from, diagnoses) if request.diagnosis_mix_from
                             else parse_mix(_mix_text(request.diagnosis_mix, diagnoses), diagnoses, "diagnosis_mix"))
    if request.per_cell:
        return plan_per_cell(request.per_cell, sorted(fst_weights), sorted(diagnosis_weights), request.seed)
    if request.n:
        return plan_images(request.n, fst_weights, diagnosis_weights, request.seed)
    raise ParameterError("say how many images: {n} N, or {per_cell} K", "n", "per_cell")


def generate_images(
    out: str | Path,
    request: PlanRequest,
    *,
    backend: GenerationBackend | None = None,
    model: str | Path | None = None,
    stable_diffusion: str | None = None,
    allow_download: bool = False,
    loras: Sequence[tuple[str | Path, float]] = (),
    textual_inversions: Sequence[str | Path] = (),
    fast: bool = False,
    steps: int = DEFAULT_STEPS,
    guidance: float | None = None,
    scheduler: str = DEFAULT_SCHEDULER,
    size: int | None = None,
    batch_size: int = 16,
    progress: Callable[[int, int, float], None] | None = None,
) -> GeneratedSet:
    """Generate the images of ``request`` into ``out`` (resumable: a rerun skips the images already there).

    The model is the Stable Diffusion pipeline ``stable_diffusion`` names, with ``loras``
    ((folder, weight) pairs) and ``textual_inversions`` (token files or folders), else fairskin's
    model in ``model`` (default: the shipped one); or ``backend``, one already loaded (the web app
    keeps its models loaded between requests). ``guidance`` defaults to the model kind's: 7.5 for
    Stable Diffusion, 3 for fairskin's. ``size``: the image side where the model makes more than
    one (Stable Diffusion). ``progress(done, total, images per second)`` is called on the local
    main process only.
    """
    state = PartialState()
    if backend is None:
        backend = load_backend(model, stable_diffusion, device=str(state.device), allow_download=allow_download, loras=loras,
                               textual_inversions=textual_inversions, fast=fast)
    if guidance is None:
        guidance = SD_GUIDANCE if isinstance(backend, StableDiffusionBackend) else FST_GUIDANCE
    plan = build_plan(request, backend.diagnoses or DIAGNOSES)
    generate_set(backend, plan, out, steps=steps, guidance=guidance, scheduler=scheduler, batch_size=batch_size, size=size,
                 process_index=state.process_index, num_processes=state.num_processes,
                 progress=progress if state.is_local_main_process else None)
    state.wait_for_everyone()
    manifest = None
    if state.is_main_process:
        manifest = merge_parts(out) if state.num_processes > 1 else Path(out) / "manifest.csv"
    return GeneratedSet(manifest, len(plan), backend.model_id)
