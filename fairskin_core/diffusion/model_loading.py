"""An `FSTDiffusionPipeline` written to and read from a model folder (`fairskin_core.diffusion.model_folder`).

Saving is diffusers' own `save_pretrained`, and so is loading each component (`from_pretrained`):
`load_model` builds the pipeline from them rather than from the module paths `model_index.json`
recorded, so a folder saved before the model's code moved (to `fairskin_core.diffusion`) still
loads. Our index is written beside diffusers' files, and read and checked before any weight is.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

from .conditioned_unet import FSTConditionedUNet
from .model_folder import INDEX_FILE, MODEL_FORMAT, MODEL_KIND, ModelFolderError, check_files, read_index
from .pipeline import FSTDiffusionPipeline


def save_model(pipeline: FSTDiffusionPipeline, folder: str | Path, **index: object) -> Path:
    """Write ``pipeline`` (diffusers' folder: safetensors weights, configs, model_index.json) and our index into ``folder``."""
    folder = Path(folder)
    pipeline.save_pretrained(folder, safe_serialization=True)
    (folder / INDEX_FILE).write_text(json.dumps({
        "kind": MODEL_KIND,
        "format": MODEL_FORMAT,
        "image_size": pipeline.image_size,
        "latent": pipeline.vae is not None,
        "diagnoses": list(pipeline.unet.config.diagnoses),
        **index,
    }, indent=2))
    return folder


def load_model(folder: str | Path, device: str | None = None) -> FSTDiffusionPipeline:
    """The pipeline saved in ``folder``, after `model_folder`'s checks, from its components."""
    folder = Path(folder)
    index = read_index(folder)
    check_files(folder, index)
    try:
        pipeline = FSTDiffusionPipeline(FSTConditionedUNet.from_pretrained(folder / "unet"),
                                        DDPMScheduler.from_pretrained(folder / "scheduler"),
                                        AutoencoderKL.from_pretrained(folder / "vae") if index.get("latent") else None)
    except Exception as exc:  # noqa: BLE001 - safetensors, json and torch each raise their own
        raise ModelFolderError(f"{folder}: the weights cannot be read ({type(exc).__name__}: {str(exc)[:200]}); "
                               "the file is damaged — copy it again, or retrain") from None
    return pipeline.to(device) if device else pipeline
