"""The Stable Diffusion model a fine-tune starts from: loading it (hub id or folder) and naming it.

A LoRA or a learned token only means something on the base it was trained on, and diffusers
cannot tell: a LoRA of another SD 1.5 fine-tune has the same shapes and loads silently. So every
fine-tune records `base_fingerprint` of its base — a hash of the UNet's config and of a few of
its weight tensors, cheap to compute and different for any two trained models — and loading
it onto another base is refused with both names (`check_base`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ParameterError

FINETUNE_FILE = "fairskin_finetune.json"  # written beside every LoRA / token file fairskin trains


class BaseModelError(ParameterError):
    """The base model cannot be had, or a fine-tune belongs to another base (the parameters it names as ``{name}``:
    `ParameterError`)."""


@dataclass
class BaseModel:
    name: str
    tokenizer: object
    text_encoder: torch.nn.Module
    vae: torch.nn.Module
    unet: torch.nn.Module
    noise_scheduler: object
    fingerprint: str


def model_not_available(name: str, exc: Exception) -> BaseModelError:
    """The error for a Stable Diffusion model that cannot be loaded: where it was looked for, and how to get it."""
    where = f"the folder {name}" if Path(name).exists() else f"the Hugging Face cache ($HF_HOME) for {name!r}"
    return BaseModelError(
        f"Stable Diffusion model {name!r} could not be loaded from {where} ({type(exc).__name__}: {str(exc)[:200]}). "
        f"With network access, download it once: `huggingface-cli download {name}` (or let it download: {{allow_download}}); "
        "or give the path of a local diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)",
        "allow_download")


def load_base(name: str, allow_download: bool = False) -> BaseModel:
    """The parts of the Stable Diffusion pipeline ``name`` (a diffusers folder or a hub id) that fine-tuning needs."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    local = Path(name).exists()
    if local and not (Path(name) / "model_index.json").is_file():
        raise BaseModelError(f"{name} is not a diffusers Stable Diffusion folder: it has no model_index.json")
    options = {"local_files_only": not allow_download}
    try:
        tokenizer = CLIPTokenizer.from_pretrained(name, subfolder="tokenizer", **options)
        text_encoder = CLIPTextModel.from_pretrained(name, subfolder="text_encoder", **options)
        vae = AutoencoderKL.from_pretrained(name, subfolder="vae", **options)
        unet = UNet2DConditionModel.from_pretrained(name, subfolder="unet", **options)
        noise_scheduler = DDPMScheduler.from_pretrained(name, subfolder="scheduler", **options)
    except (OSError, ValueError) as exc:
        raise model_not_available(name, exc) from None
    return BaseModel(name, tokenizer, text_encoder, vae, unet, noise_scheduler, base_fingerprint(unet))


def base_fingerprint(unet: torch.nn.Module) -> str:
    """16 hex digits naming a UNet's architecture and weights (config + first, middle and last tensors)."""
    digest = hashlib.sha256()
    config = {k: v for k, v in dict(unet.config).items() if not k.startswith("_")}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    tensors = list(unet.state_dict().items())
    for key, tensor in (tensors[0], tensors[len(tensors) // 2], tensors[-1]):
        digest.update(key.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def read_finetune(folder_or_file: str | Path) -> dict | None:
    """The `fairskin_finetune.json` beside a LoRA folder or a token file (None for fine-tunes of other tools)."""
    path = Path(folder_or_file)
    record = (path if path.is_dir() else path.parent) / FINETUNE_FILE
    return json.loads(record.read_text()) if record.is_file() else None


def check_base(finetune: str | Path, base_name: str, fingerprint: str) -> None:
    """Refuse a fine-tune that fairskin trained on another base than ``base_name`` (fingerprint ``fingerprint``)."""
    record = read_finetune(finetune)
    if record and record.get("base_fingerprint") != fingerprint:
        raise BaseModelError(f"{finetune} was trained on the base model {record.get('base_model')!r} "
                             f"(fingerprint {record.get('base_fingerprint')}), not on {base_name!r} (fingerprint {fingerprint}): "
                             "load it onto the model it was trained on, or train it again on this one")
