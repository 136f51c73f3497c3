"""Generation backends: one interface, two kinds of model behind it.

Everything around generation — the Generate tab, `fairskin generate`, batch sets, provenance —
talks to a `GenerationBackend`: give it skin types, diagnoses and one seed per image, get
uint8 images back. `FSTModelBackend` runs fairskin's own conditioned model (the shipped default
or any trained one); `StableDiffusionBackend` runs a diffusers Stable Diffusion pipeline from
a local folder or a hub id, with a text prompt built from the labels, optionally with LoRA
adapters and textual-inversion tokens (from `fairskin lora` / `fairskin textual-inversion` or
other tools): the interface stays the same.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..diffusion.model_folder import DEFAULT_MODEL, WEIGHTS_FILE
from ..diffusion.model_loading import load_model
from ..diffusion.schedulers import make_scheduler
from ..errors import ParameterError
from ..finetune.base_model import base_fingerprint, check_base, model_not_available, read_finetune
from ..finetune.prompts import DEFAULT_TEMPLATE, cell_prompt, check_template
from ..finetune.textual_inversion import token_files
from ..hashing import file_sha256
from ..torch_files import pick_device

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"  # the file stock save_lora_weights writes
SIZE_MULTIPLE, MAX_SIZE = 8, 2048  # the image sides diffusers' Stable Diffusion pipelines take; larger is a typo or out of memory


class GenerationBackend(Protocol):
    model_id: str  # what the manifest records as model_id
    model_hash: str  # a hash of the weights, for provenance
    image_size: int

    def prompt(self, fst: int, diagnosis: str) -> str:
        """The text prompt of a request ("" for models conditioned on labels directly)."""

    def generate(self, fst: list[int], diagnosis: list[str], seeds: list[int], *, steps: int, guidance: float, scheduler: str,
                 size: int | None = None, progress=None) -> np.ndarray:
        """N × H × W × 3 uint8 images (``size`` × ``size``, default `image_size`), image i from seed i alone."""


class FSTModelBackend:
    """fairskin's FST × diagnosis conditioned model from a model folder (default: the shipped one)."""

    def __init__(self, folder: str | Path | None = None, device: str | None = None):
        self.folder = Path(folder) if folder else DEFAULT_MODEL
        self.pipeline = load_model(self.folder, device=pick_device(device))
        self.model_id = "fairskin-default" if self.folder == DEFAULT_MODEL else f"fairskin-fst:{self.folder.name}"
        self.model_hash = file_sha256(self.folder / "unet" / WEIGHTS_FILE)[:16]
        self.image_size = self.pipeline.image_size
        self.diagnoses = tuple(self.pipeline.unet.config.diagnoses)

    def prompt(self, fst: int, diagnosis: str) -> str:
        return ""

    def generate(self, fst, diagnosis, seeds, *, steps=25, guidance=3.0, scheduler="ddim", size=None, progress=None) -> np.ndarray:
        if size not in (None, self.image_size):
            raise ValueError(f"size {size}: {self.model_id} makes {self.image_size} × {self.image_size} images only")
        return self.pipeline(fst, diagnosis, seeds, steps=steps, guidance=guidance, scheduler=scheduler, progress=progress)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """A diffusers pipeline's float images in [0, 1] as uint8."""
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def _load_pipeline(model: str, allow_download: bool):
    from diffusers import StableDiffusionPipeline

    try:
        return StableDiffusionPipeline.from_pretrained(model, local_files_only=not allow_download, safety_checker=None)
    except (OSError, ValueError) as exc:
        raise model_not_available(model, exc) from None


def stable_diffusion_size(model: str) -> int:
    """The image side a Stable Diffusion pipeline (folder, or hub id in the cache) was made for, from its configs alone."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    try:
        unet = UNet2DConditionModel.load_config(model, subfolder="unet", local_files_only=True)
        vae = AutoencoderKL.load_config(model, subfolder="vae", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise model_not_available(model, exc) from None
    return unet["sample_size"] * 2 ** (len(vae["block_out_channels"]) - 1)


def _load_tokens(pipeline, path: str | Path, model: str, fingerprint: str) -> list[Path]:
    """Load every token of a token file or `fairskin textual-inversion` folder with stock `load_textual_inversion`; the files."""
    from safetensors import safe_open

    files = token_files(path)
    for file in files:
        check_base(file, model, fingerprint)
        if file.suffix == ".safetensors":  # fairskin's and diffusers' format, {token: embedding}: say which token clashes
            with safe_open(file, "pt") as state:
                names = list(state.keys())
            clash = names[0] if len(names) == 1 and names[0] in pipeline.tokenizer.get_vocab() else None
            if clash:
                raise ValueError(f"{file}: its token {clash} is already in the vocabulary of {model} (loaded twice, or a word the "
                                 "model has): give each token file once, or rename the token")
        try:
            pipeline.load_textual_inversion(str(file))
        except (ValueError, OSError, RuntimeError, KeyError) as exc:
            raise ValueError(f"{file} could not be loaded as a textual-inversion embedding of {model}: {str(exc)[:300]}") from None
    return files


def _load_lora(pipeline, path: str | Path, name: str, model: str, fingerprint: str) -> Path:
    """Load the LoRA in ``path`` (a folder, or its .safetensors file) as adapter ``name``; its weights file."""
    from diffusers.utils import logging as diffusers_logging

    path = Path(path)
    file = path / LORA_WEIGHTS if path.is_dir() else path
    if not file.is_file() or file.suffix != ".safetensors":
        raise ValueError(f"LoRA {path}: no {LORA_WEIGHTS} there; give a folder written by `fairskin lora` (or by diffusers' "
                         "save_lora_weights), or the .safetensors file itself")
    check_base(path, model, fingerprint)
    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # not "No LoRA keys associated to CLIPTextModel" for every UNet-only LoRA
    try:
        with warnings.catch_warnings():  # nor peft's "multiple adapters" for every LoRA after the first: that is the point
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            pipeline.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name=name)
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0][:200])
        raise ValueError(f"LoRA {path} does not fit {model} ({detail}): it was made for another model; "
                         "load it onto the model it was trained on") from None
    finally:
        diffusers_logging.set_verbosity(verbosity)
    if not any(name in names for names in pipeline.get_list_adapters().values()):
        raise ValueError(f"LoRA {path} holds no layer of {model}'s UNet or text encoder: it was made for another kind of model")
    return file


def _make_fast(pipeline, adapters: list[str], compile_unet: bool) -> None:
    """The GPU settings, the same images within rounding: LoRAs merged into the weights, fused QKV
    projections (still SDPA: `FusedAttnProcessor2_0`), channels-last convolutions and a compiled UNet."""
    if adapters:  # fused QKV weights are copies of the plain ones: the LoRA deltas must be in them first
        pipeline.fuse_lora(adapter_names=adapters)
        pipeline.unload_lora_weights()  # keeps the merged weights, drops the peft layers around them
    for model in (pipeline.unet, pipeline.vae):
        model.fuse_qkv_projections()
        model.to(memory_format=torch.channels_last)
    if compile_unet:  # "reduce-overhead": inductor's kernels replayed as CUDA graphs, without max-autotune's long search at start
        pipeline.unet = torch.compile(pipeline.unet, mode="reduce-overhead")


class StableDiffusionBackend:
    """A diffusers Stable Diffusion pipeline (local folder or hub id), prompted with the labels, with LoRAs and learned tokens.

    ``loras``: (folder or file, weight) pairs, loaded together as named adapters with those
    weights. ``textual_inversions``: token files or `fairskin textual-inversion` folders. A
    fine-tune fairskin trained on another base is refused (`BaseModelError`, naming both).
    Prompts follow `prompts.cell_prompt` with the template of the first fairskin fine-tune given
    (else the default one) and the learned tokens loaded. ``dtype``: default float16 on CUDA,
    float32 elsewhere. ``fast``: see `_make_fast`; LoRA weights are then fixed at load.
    """

    def __init__(self, model: str, device: str | None = None, allow_download: bool = False, loras=(), textual_inversions=(),
                 dtype: torch.dtype | None = None, fast: bool = False):
        device = pick_device(device)
        self.pipeline = _load_pipeline(model, allow_download)
        self.pipeline.set_progress_bar_config(disable=True)
        self.training_scheduler = self.pipeline.scheduler
        self.base_fingerprint = base_fingerprint(self.pipeline.unet)  # of the weights as stored: before any LoRA or cast
        loras = [(Path(path), float(weight)) for path, weight in loras]
        vocabulary = set(self.pipeline.tokenizer.get_vocab())
        embeddings = [file for path in textual_inversions for file in _load_tokens(self.pipeline, path, model, self.base_fingerprint)]
        self.tokens = frozenset(set(self.pipeline.tokenizer.get_vocab()) - vocabulary)
        adapters = [f"lora{i}" for i in range(len(loras))]
        lora_files = [_load_lora(self.pipeline, path, name, model, self.base_fingerprint)
                      for (path, _), name in zip(loras, adapters, strict=True)]
        if adapters:
            self.pipeline.set_adapters(adapters, [weight for _, weight in loras])
        records = [record for record in map(read_finetune, [path for path, _ in loras] + list(textual_inversions)) if record]
        template = records[0].get("prompt_template") if records else None
        self.template = check_template(template) if template else DEFAULT_TEMPLATE
        on_cuda = torch.device(device).type == "cuda"
        dtype = dtype or (torch.float16 if on_cuda else torch.float32)
        self.pipeline.to(device)
        if dtype != self.pipeline.unet.dtype:  # (a cast to the dtype it has only warns)
            self.pipeline.to(dtype=dtype)
        if fast:
            _make_fast(self.pipeline, adapters, compile_unet=on_cuda)
        self.model_id = "+".join([f"stable-diffusion:{model}", *(f"lora:{path}@{weight:g}" for path, weight in loras),
                                  *(f"textual-inversion:{file}" for file in embeddings)])
        # The base's fingerprint (what fine-tunes record as base_fingerprint), with every LoRA file, its weight and token file.
        finetunes = [*(f"{file_sha256(file)}@{weight:g}" for file, (_, weight) in zip(lora_files, loras, strict=True)),
                     *map(file_sha256, embeddings)]
        self.model_hash = _hash(self.base_fingerprint, *finetunes) if finetunes else self.base_fingerprint
        self.image_size = self.pipeline.unet.config.sample_size * self.pipeline.vae_scale_factor
        self.diagnoses = None  # any text

    def prompt(self, fst: int, diagnosis: str) -> str:
        return cell_prompt(fst, diagnosis, self.template, self.tokens)

    def generate(self, fst, diagnosis, seeds, *, steps=25, guidance=7.5, scheduler="ddim", size=None, progress=None) -> np.ndarray:
        if size is not None and not (SIZE_MULTIPLE <= size <= MAX_SIZE and size % SIZE_MULTIPLE == 0):
            raise ValueError(f"size {size}: Stable Diffusion makes images whose side is a multiple of {SIZE_MULTIPLE} up to {MAX_SIZE} "
                             "(e.g. 512 or 768)")
        self.pipeline.scheduler = make_scheduler(scheduler, self.training_scheduler)
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        callback = (lambda pipe, i, t, kwargs: (progress(i + 1, steps), kwargs)[1]) if progress else None
        prompts = [self.prompt(f, d) for f, d in zip(fst, diagnosis, strict=True)]
        result = self.pipeline(prompts, num_inference_steps=steps, guidance_scale=guidance, generator=generators, output_type="np",
                               height=size, width=size, callback_on_step_end=callback)
        return to_uint8(result.images)


def load_backend(model: str | Path | None = None, stable_diffusion: str | None = None, *, device: str | None = None,
                 allow_download: bool = False, loras=(), textual_inversions=(), fast: bool = False) -> GenerationBackend:
    """The Stable Diffusion pipeline ``stable_diffusion`` names (with its fine-tunes), else fairskin's model in ``model``
    (default: the shipped one)."""
    if stable_diffusion:
        return StableDiffusionBackend(stable_diffusion, device=device, allow_download=allow_download, loras=loras,
                                      textual_inversions=textual_inversions, fast=fast)
    if loras or textual_inversions or fast:
        raise ParameterError("{loras}, {textual_inversions} and {fast} apply to Stable Diffusion: give {stable_diffusion} MODEL with them",
                             "loras", "textual_inversions", "fast", "stable_diffusion")
    return FSTModelBackend(model, device=device)
