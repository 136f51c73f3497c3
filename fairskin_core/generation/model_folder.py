"""A trained model on disk: diffusers' `save_pretrained` folders plus a small index saying what it is.

    MODEL/
      fairskin_model.json   {"kind": "fairskin-fst-diffusion", "format": 1, "image_size": 64, ...}
      unet/                 config.json + diffusion_pytorch_model.safetensors
      scheduler/            scheduler_config.json (the training noise schedule)
      vae/                  only for latent-space models
      model_card.md, train_config.json, training_log.csv, mix.json   (written by training)

Loading checks the folder before it trusts it, and says what is wrong and what to do: no such
folder, a Stable Diffusion pipeline or another diffusers model (wrong backend), a missing or
damaged weights file.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffusers import AutoencoderKL, DDPMScheduler

from .conditioned_unet import FSTConditionedUNet
from .pipeline import FSTDiffusionPipeline

MODEL_KIND = "fairskin-fst-diffusion"
MODEL_FORMAT = 1
INDEX_FILE = "fairskin_model.json"
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


class ModelFolderError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the fix."""


def save_model(pipeline: FSTDiffusionPipeline, folder: str | Path, **index: object) -> Path:
    """Write ``pipeline`` (safetensors weights, configs) and its index into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipeline.unet.save_pretrained(folder / "unet", safe_serialization=True)
    pipeline.scheduler.save_pretrained(folder / "scheduler")
    if pipeline.vae is not None:
        pipeline.vae.save_pretrained(folder / "vae", safe_serialization=True)
    config = pipeline.unet.config
    (folder / INDEX_FILE).write_text(json.dumps({
        "kind": MODEL_KIND,
        "format": MODEL_FORMAT,
        "image_size": pipeline.image_size,
        "latent": pipeline.vae is not None,
        "diagnoses": list(config.diagnoses),
        **index,
    }, indent=2))
    return folder


def read_index(folder: str | Path) -> dict:
    """The model's index, after checking that ``folder`` is a fairskin model at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: no such model folder (train one with `fairskin train`, or leave --model out for the default model)")
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        if (folder / "model_index.json").is_file():
            kind = json.loads((folder / "model_index.json").read_text()).get("_class_name", "a diffusers pipeline")
            raise ModelFolderError(f"{folder} holds {kind}, not a fairskin FST-conditioned model: use the Stable Diffusion backend for it")
        raise ModelFolderError(f"{folder}: not a fairskin model folder ({INDEX_FILE} is missing)")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFolderError(f"{index_path}: damaged ({exc.msg} at line {exc.lineno})") from None
    if index.get("kind") != MODEL_KIND:
        raise ModelFolderError(f"{index_path}: a model of kind {index.get('kind')!r}, not {MODEL_KIND!r}")
    if index.get("format", 0) > MODEL_FORMAT:
        raise ModelFolderError(f"{index_path}: format {index['format']} is newer than this fairskin reads ({MODEL_FORMAT}); upgrade fairskin")
    return index


def load_model(folder: str | Path, device: str | None = None) -> FSTDiffusionPipeline:
    """The pipeline saved in ``folder`` (see the module docstring for what is checked)."""
    folder = Path(folder)
    index = read_index(folder)
    components = ["unet", "scheduler"] + (["vae"] if index.get("latent") else [])
    for name in components:
        config = folder / name / ("scheduler_config.json" if name == "scheduler" else "config.json")
        if not config.is_file():
            raise ModelFolderError(f"{config}: missing — the model folder is incomplete (copy it again, or retrain)")
        if name != "scheduler" and not (folder / name / WEIGHTS_FILE).is_file():
            raise ModelFolderError(f"{folder / name / WEIGHTS_FILE}: missing — the model folder is incomplete (copy it again, or retrain)")
    try:
        unet = FSTConditionedUNet.from_pretrained(folder / "unet")
        vae = AutoencoderKL.from_pretrained(folder / "vae") if index.get("latent") else None
    except Exception as exc:  # noqa: BLE001 - safetensors, json and torch each raise their own
        raise ModelFolderError(f"{folder}: the weights cannot be read ({type(exc).__name__}: {str(exc)[:200]}); the file is damaged — copy it again, or retrain") from None
    scheduler = DDPMScheduler.from_pretrained(folder / "scheduler")
    pipeline = FSTDiffusionPipeline(unet, scheduler, vae)
    if device:
        pipeline.to(device)
    return pipeline
