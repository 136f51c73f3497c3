"""A trained model on disk: a diffusers pipeline folder plus a small index saying what it is.

    MODEL/
      model_index.json      diffusers' index: FSTDiffusionPipeline and its components
      fairskin_model.json   ours: {"kind": "fairskin-fst-diffusion", "format": 1, "image_size": 64, ...}
      unet/                 config.json + diffusion_pytorch_model.safetensors
      scheduler/            scheduler_config.json (the training noise schedule)
      vae/                  only for latent-space models
      model_card.md, train_config.json, training_log.csv, mix.json   (written by training)

Saving is diffusers' own `save_pretrained`, and so is loading each component (`from_pretrained`):
`load_model` builds the pipeline from them rather than from the module paths `model_index.json`
recorded, so a folder saved before the model's code moved (to `fairskin_core.diffusion`) still
loads. What this module adds is our index and the checks before a folder is trusted, each saying
what is wrong and what to do: no such folder, a Stable Diffusion pipeline or another diffusers
model (wrong backend), a missing or damaged file, a model of another kind or a newer format.
The shipped default model is the folder `DEFAULT_MODEL`.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

from ..errors import ParameterError
from .conditioned_unet import FSTConditionedUNet
from .pipeline import FSTDiffusionPipeline

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "default_model"  # shipped as package data of fairskin_core

MODEL_KIND = "fairskin-fst-diffusion"
MODEL_FORMAT = 1
INDEX_FILE = "fairskin_model.json"
PIPELINE_INDEX_FILE = "model_index.json"  # diffusers'
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


class ModelFolderError(ParameterError):
    """A model folder that cannot be loaded; the message names the file and the fix (and the parameter, ``{model}``:
    `ParameterError`)."""


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


def read_index(folder: str | Path) -> dict:
    """The model's index, after checking that ``folder`` is a fairskin model at all.

    Ours holds both indexes; diffusers' alone is someone else's pipeline.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: no such model folder "
                               "(train one with `fairskin train`, or leave {model} out for the default model)", "model")
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        if (folder / PIPELINE_INDEX_FILE).is_file():
            kind = json.loads((folder / PIPELINE_INDEX_FILE).read_text()).get("_class_name", "a diffusers pipeline")
            raise ModelFolderError(f"{folder} holds {kind}, not a fairskin FST-conditioned model: use the Stable Diffusion backend for it")
        raise ModelFolderError(f"{folder}: not a fairskin model folder ({INDEX_FILE} is missing)")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFolderError(f"{index_path}: damaged ({exc.msg} at line {exc.lineno})") from None
    if index.get("kind") != MODEL_KIND:
        raise ModelFolderError(f"{index_path}: a model of kind {index.get('kind')!r}, not {MODEL_KIND!r}")
    if index.get("format", 0) > MODEL_FORMAT:
        raise ModelFolderError(f"{index_path}: format {index['format']} is newer than this fairskin reads ({MODEL_FORMAT}); "
                               "upgrade fairskin")
    return index


def check_files(folder: Path, index: dict) -> None:
    """Every file loading needs is there (diffusers' own errors for a missing one do not name the fix)."""
    incomplete = "missing — the model folder is incomplete (copy it again, or retrain)"
    if not (folder / PIPELINE_INDEX_FILE).is_file():
        raise ModelFolderError(f"{folder / PIPELINE_INDEX_FILE}: {incomplete}; a folder saved before fairskin wrote it "
                               f"loads again with fairskin_core/default_model/{PIPELINE_INDEX_FILE} copied in "
                               '(with "vae": ["diffusers", "AutoencoderKL"] for a latent-space model)')
    components = ["unet", "scheduler"] + (["vae"] if index.get("latent") else [])
    for name in components:
        config = folder / name / ("scheduler_config.json" if name == "scheduler" else "config.json")
        if not config.is_file():
            raise ModelFolderError(f"{config}: {incomplete}")
        if name != "scheduler" and not (folder / name / WEIGHTS_FILE).is_file():
            raise ModelFolderError(f"{folder / name / WEIGHTS_FILE}: {incomplete}")


def load_model(folder: str | Path, device: str | None = None) -> FSTDiffusionPipeline:
    """The pipeline saved in ``folder``, after the checks of the module docstring, from its components."""
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
