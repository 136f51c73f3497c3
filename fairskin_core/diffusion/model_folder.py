"""A trained model on disk: a diffusers pipeline folder plus a small index saying what it is.

    MODEL/
      model_index.json      diffusers' index: FSTDiffusionPipeline and its components
      fairskin_model.json   ours: {"kind": "fairskin-fst-diffusion", "format": 1, "image_size": 64, ...}
      unet/                 config.json + diffusion_pytorch_model.safetensors
      scheduler/            scheduler_config.json (the training noise schedule)
      vae/                  only for latent-space models
      model_card.md, train_config.json, training_log.csv, mix.json   (written by training)

Saving and loading are diffusers' own (`fairskin_core.diffusion.model_loading`). What this module
adds is our index and the checks before a folder is trusted, each saying what is wrong and what
to do: no such folder, a Stable Diffusion pipeline or another diffusers model (wrong backend), a
missing or damaged file, a model of another kind or a newer format. The shipped default model is
the folder `DEFAULT_MODEL`. Nothing here imports torch or diffusers: the web app and the command
line read a model's index, and name the default's files, without loading them.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ParameterError

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "default_model"  # shipped as package data of fairskin_core

MODEL_KIND = "fairskin-fst-diffusion"
MODEL_FORMAT = 1
INDEX_FILE = "fairskin_model.json"
PIPELINE_INDEX_FILE = "model_index.json"  # diffusers'
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


class ModelFolderError(ParameterError):
    """A model folder that cannot be loaded; the message names the file and the fix (and the parameter, ``{model}``:
    `ParameterError`)."""


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
