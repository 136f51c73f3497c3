"""Generation backends: one interface, two kinds of model behind it.

Everything around generation — the Generate tab, `fairskin generate`, batch sets, provenance —
talks to a `GenerationBackend`: give it skin types, diagnoses and one seed per image, get
uint8 images back. `FSTModelBackend` runs fairskin's own conditioned model (the shipped default
or any trained one); `StableDiffusionBackend` runs a diffusers Stable Diffusion pipeline from
a local folder or a hub id, with a text prompt built from the labels. LoRA adapters and
textual-inversion embeddings for it plug in as extra constructor arguments in a later step:
the interface stays the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..fst import ROMAN
from ..hashing import file_sha256
from .model_folder import WEIGHTS_FILE, load_model
from .schedulers import make_scheduler

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "default_model"


class GenerationBackend(Protocol):
    model_id: str  # what the manifest records as model_id
    model_hash: str  # a hash of the weights, for provenance
    image_size: int

    def prompt(self, fst: int, diagnosis: str) -> str:
        """The text prompt of a request ("" for models conditioned on labels directly)."""

    def generate(self, fst: list[int], diagnosis: list[str], seeds: list[int], *, steps: int, guidance: float, scheduler: str,
                 progress=None) -> np.ndarray:
        """N × H × W × 3 uint8 images, image i from seed i alone."""


def _device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


class FSTModelBackend:
    """fairskin's FST × diagnosis conditioned model from a model folder (default: the shipped one)."""

    def __init__(self, folder: str | Path | None = None, device: str | None = None):
        self.folder = Path(folder) if folder else DEFAULT_MODEL
        self.pipeline = load_model(self.folder, device=_device(device))
        self.model_id = "fairskin-default" if self.folder == DEFAULT_MODEL else f"fairskin-fst:{self.folder.name}"
        self.model_hash = file_sha256(self.folder / "unet" / WEIGHTS_FILE)[:16]
        self.image_size = self.pipeline.image_size
        self.diagnoses = tuple(self.pipeline.unet.config.diagnoses)

    def prompt(self, fst: int, diagnosis: str) -> str:
        return ""

    def generate(self, fst, diagnosis, seeds, *, steps=25, guidance=3.0, scheduler="ddim", progress=None) -> np.ndarray:
        return self.pipeline(fst, diagnosis, seeds, steps=steps, guidance=guidance, scheduler=scheduler, progress=progress)


class StableDiffusionBackend:
    """A diffusers Stable Diffusion pipeline (local folder or hub id), prompted with the labels."""

    PROMPT = "dermoscopy image of {diagnosis} on Fitzpatrick skin type {roman} skin"

    def __init__(self, model: str, device: str | None = None, allow_download: bool = False):
        from diffusers import StableDiffusionPipeline

        try:
            self.pipeline = StableDiffusionPipeline.from_pretrained(model, local_files_only=not allow_download, safety_checker=None)
        except (OSError, ValueError) as exc:
            where = "this folder" if Path(model).exists() else f"the Hugging Face cache ($HF_HOME) for {model!r}"
            raise ValueError(f"Stable Diffusion model {model!r} could not be loaded from {where} ({type(exc).__name__}: {str(exc)[:160]}). "
                             "Download it once with network access (e.g. `huggingface-cli download " + model + "`), or pass a local "
                             "diffusers folder") from None
        self.pipeline.set_progress_bar_config(disable=True)
        self.pipeline.to(_device(device))
        self.model_id = f"stable-diffusion:{model}"
        unet_weights = sorted(Path(self.pipeline.unet.config._name_or_path or model).glob("**/*.safetensors"))
        self.model_hash = file_sha256(unet_weights[0])[:16] if unet_weights else "unknown"
        self.image_size = self.pipeline.unet.config.sample_size * self.pipeline.vae_scale_factor
        self.diagnoses = None  # any text

    def prompt(self, fst: int, diagnosis: str) -> str:
        return self.PROMPT.format(diagnosis=diagnosis.replace("_", " "), roman=ROMAN[fst])

    def generate(self, fst, diagnosis, seeds, *, steps=25, guidance=7.5, scheduler="ddim", progress=None) -> np.ndarray:
        self.pipeline.scheduler = make_scheduler(scheduler, self.pipeline.scheduler)
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        callback = (lambda pipe, i, t, kwargs: (progress(i + 1, steps), kwargs)[1]) if progress else None
        prompts = [self.prompt(f, d) for f, d in zip(fst, diagnosis, strict=True)]
        result = self.pipeline(prompts, num_inference_steps=steps, guidance_scale=guidance, generator=generators, output_type="np",
                               callback_on_step_end=callback)
        return (np.clip(result.images, 0, 1) * 255).round().astype(np.uint8)


def load_backend(model: str | Path | None = None, stable_diffusion: str | None = None, *, device: str | None = None,
                 allow_download: bool = False) -> GenerationBackend:
    """The Stable Diffusion pipeline ``stable_diffusion`` names, else fairskin's model in ``model`` (default: the shipped one)."""
    if stable_diffusion:
        return StableDiffusionBackend(stable_diffusion, device=device, allow_download=allow_download)
    return FSTModelBackend(model, device=device)
