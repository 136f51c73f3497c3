"""The model card: what a model folder holds, how it was trained, on what mix, and how good it is.

Written from the folder's own files, so it can be regenerated at any time:
`train_config.json`, `fairskin_model.json`, `mix.json`, `training_log.csv` and, once
`benchmarks/default_model_quality.py` (or anyone) has measured it, `quality.json`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..fst import ROMAN


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _denoiser(config: dict) -> str:
    """One line on the UNet and its objective (configs older than a field get that field's default)."""
    patch = config.get("patch_size", 1)
    parts = [f"UNet levels {config['block_out_channels']}, {config['layers_per_block']} block(s) per level",
             f"{patch} × {patch} pixel blocks as channels" if patch > 1 else "on single pixels",
             "predicting v" if config.get("prediction_type") == "v_prediction" else "predicting the noise ε"]
    if config.get("snr_gamma"):
        parts.append(f"min-SNR-{config['snr_gamma']:g} loss weighting")
    precision = config.get("mixed_precision", "no")
    parts.append(f"{precision} mixed precision" if precision != "no" else "fp32")
    return ", ".join(parts)


def write_model_card(folder: str | Path) -> Path:
    folder = Path(folder)
    config = json.loads((folder / "train_config.json").read_text())
    index = json.loads((folder / "fairskin_model.json").read_text())
    mix = json.loads((folder / "mix.json").read_text())
    with open(folder / "training_log.csv", newline="") as handle:
        log = list(csv.DictReader(handle))
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    parts = [
        "# fairskin FST-conditioned diffusion model",
        "",
        f"A denoising diffusion model of {index['image_size']} × {index['image_size']} px skin-lesion images, conditioned on "
        f"Fitzpatrick skin type (I–VI) and diagnosis ({', '.join(index['diagnoses'])}), with classifier-free guidance. "
        f"Weights: `unet/diffusion_pytorch_model.safetensors` ({weights.stat().st_size / 1e6:.1f} MB, EMA).",
        "",
        "## Training",
        "",
        f"- data: `{config['manifest'] or 'phantoms ' + json.dumps(config['phantoms'])}` "
        f"(manifest sha256 `{index.get('manifest_sha256', '?')}`), split `{config['split'] or 'all'}`",
        f"- {index.get('steps', '?')} steps of {config['batch_size']} images, learning rate {config['learning_rate']}, "
        f"EMA decay {config['ema_decay']}, conditioning dropout {config['conditioning_dropout']}, seed {config['seed']}",
        f"- fairness-aware resampling: every FST × diagnosis cell equally often, FST V–VI cells × {config['dark_skin_oversampling']}; "
        f"per-cell loss weighting `{config['cell_loss_weighting']}`, diversity weight {config['diversity_weight']}",
        f"- denoiser: {_denoiser(config)}",
        "- the full config: `train_config.json`; loss and speed per step: `training_log.csv`",
    ]
    if index.get("latent"):
        parts.append(f"- latent space: the denoiser learns the latents of the VAE `{index.get('vae_source', '?')}`, shipped in `vae/`")
    if log:
        last = log[-1]
        parts.append(f"- final loss {float(last['loss']):.4f} after {float(last['elapsed_s']) / 60:.1f} min")
    parts += ["", "### What the model saw (draws per cell; target share in brackets)", ""]
    diagnoses = sorted({row["diagnosis"] for row in mix})
    by_cell = {(row["fst"], row["diagnosis"]): row for row in mix}
    rows = []
    for fst in sorted({row["fst"] for row in mix}):
        cells = [by_cell.get((fst, d)) for d in diagnoses]
        rows.append([ROMAN[fst], *(f"{c['drawn']} ({c['target_share']:.1%})" if c else "–" for c in cells)])
    parts.append(_table(["FST", *diagnoses], rows))
    quality_path = folder / "quality.json"
    parts += ["", "## Quality", ""]
    if quality_path.exists():
        quality = json.loads(quality_path.read_text())
        parts.append(quality["markdown"])
    else:
        parts.append("Not measured yet: run `python benchmarks/default_model_quality.py --model THIS_FOLDER`.")
    path = folder / "model_card.md"
    path.write_text("\n".join(parts) + "\n")
    return path
