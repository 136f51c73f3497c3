"""The Generate tab's form and the request it describes: the ways to generate, the models and sizes offered, and
`request_from_form`, which checks what was typed (a number out of range or not whole is refused, never changed)."""

from __future__ import annotations

from pathlib import Path

from fairskin_core.diffusion.model_folder import DEFAULT_MODEL, INDEX_FILE, ModelFolderError, read_index
from fairskin_core.fst import ROMAN
from fairskin_core.generation.run_folders import MAX_IMAGES, MAX_STEPS, GenerationRequest
from fairskin_core.numbers import seed_number, whole_number

DEFAULT_CHOICE = "default (shipped with fairskin)"
MODES = ("fairskin model", "Stable Diffusion", "Skin-tone transfer", "Skin-tone transfer with Stable Diffusion")
SD_MODES = (MODES[1], MODES[3])
TONE_MODES = (MODES[2], MODES[3])
OWN_SIZE = "the model's own"
SIZE_FACTORS = (0.5, 0.75, 1, 1.25, 1.5)  # image sides offered around a Stable Diffusion model's own (quality falls further away)


def model_choices(models: Path) -> list[str]:
    """The default model and every model folder in ``models`` (the workspace's ``models/``)."""
    trained = sorted(str(p.parent) for p in models.glob(f"*/{INDEX_FILE}"))
    return [DEFAULT_CHOICE, *trained]


def model_diagnoses(model: str) -> list[str]:
    """A fairskin model's diagnoses, from its index (no weights loaded)."""
    if model != DEFAULT_CHOICE and not Path(model).is_dir():  # the library's advice here is the CLI's (`fairskin train`)
        raise ModelFolderError(f"{model}: no such folder on the server; choose a model from the list")
    return list(read_index(DEFAULT_MODEL if model == DEFAULT_CHOICE else Path(model))["diagnoses"])


def size_choices(stable_diffusion: str) -> list[str]:
    """The image sizes offered for a Stable Diffusion model: around the one it was made for (read from its configs)."""
    from fairskin_core.generation.backends import SIZE_MULTIPLE, stable_diffusion_size  # torch: once a Stable Diffusion model is named

    try:
        own = stable_diffusion_size(stable_diffusion)
    except ValueError:
        return [OWN_SIZE]
    return [OWN_SIZE, *(str(side) for side in sorted({max(SIZE_MULTIPLE, round(own * f / SIZE_MULTIPLE) * SIZE_MULTIPLE)
                                                     for f in SIZE_FACTORS}))]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _loras(text: str) -> tuple[tuple[str, float], ...]:
    """One LoRA per line, ``FOLDER`` or ``FOLDER:WEIGHT`` (as `fairskin generate --lora`)."""
    loras = []
    for line in _lines(text):
        folder, colon, weight = line.rpartition(":")
        try:
            loras.append((folder, float(weight)) if colon and folder else (line, 1.0))
        except ValueError:
            raise ValueError(f"LoRA line {line!r}: the weight after ':' must be a number, e.g. {folder}:0.8") from None
    return tuple(loras)


def request_from_form(mode: str, model: str, stable_diffusion: str, loras: str, inversions: str, allow_download: bool, fst_label: str,
                      diagnosis: str | None, count: float | None, seed: float | None, steps: float | None, guidance: float | None,
                      scheduler: str, size: str | None, source_manifest: str, source_ids: list[str] | None,
                      strength: float) -> GenerationRequest:
    """The request the form describes, checked: a number out of range or not whole is refused, never changed."""
    if mode not in MODES:
        raise ValueError("choose what to generate with")
    if fst_label not in ROMAN.values():
        raise ValueError("choose a Fitzpatrick skin type")
    sd = mode in SD_MODES
    if sd and not (stable_diffusion or "").strip():
        raise ValueError("give a Stable Diffusion model: a hub id (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5) or a folder")
    tone = mode in TONE_MODES
    if tone and not (source_manifest or "").strip():
        raise ValueError("give the manifest of the source images")
    n = whole_number(count, "Images", 1, MAX_IMAGES) if not tone else 1
    return GenerationRequest(
        fst={v: k for k, v in ROMAN.items()}[fst_label], diagnosis=None if tone else diagnosis, n=n,
        seed=seed_number(seed, "Seed"), model=None if sd or model == DEFAULT_CHOICE else model,
        stable_diffusion=stable_diffusion.strip() if sd else None, loras=_loras(loras) if sd else (),
        textual_inversions=tuple(_lines(inversions)) if sd else (), allow_download=bool(allow_download) and sd,
        steps=whole_number(steps, "Steps", 1, MAX_STEPS), guidance=guidance, scheduler=scheduler,
        size=int(size) if mode == MODES[1] and size and size != OWN_SIZE else None,
        source_manifest=source_manifest.strip() if tone else None, source_ids=tuple(source_ids or ()) if tone else (),
        strength=float(strength),
    ).check()
