"""Our FST × diagnosis model trained on real photographs: the shared Fitzpatrick17k copy.

    python benchmarks/fitzpatrick17k_generator.py prepare  --out WORK   # manifest + training config
    fairskin train --config WORK/config.json                              # resumable; rerun to continue
    python benchmarks/fitzpatrick17k_generator.py evaluate --out WORK   # samples, figures -> docs/

The split is the skin-type estimator's (`fairskin_core/skin_type/model/split.csv`): the model
trains on its ``train`` rows only (its ``calibration`` rows become ``val``), and is measured against the ``test`` rows, which neither it nor
the estimator has seen. Diagnosis is the three most frequent lesion diagnoses the importer names
(melanoma, basal and squamous cell carcinoma) and ``other`` for every other condition.

``evaluate`` generates ``--per-type`` images per skin type (diagnoses balanced), and reports per
type: FID and KID against the held-out real images of that type next to the real floor (half
of the held-out images against the other half), the type the learned estimator measures, and
memorization (each sample's nearest training image in Inception space, against the held-out
images' own nearest training image). Writes ``docs/fitzpatrick17k_generator.json`` and a grid of
samples ``docs/images/fitzpatrick17k-generator-samples.jpg`` (generated images only: the real
Fitzpatrick17k photographs never go into the docs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.analysis.agreement import agreement_report
from fairskin_core.generation.backends import load_backend
from fairskin_core.generation.planned_set import generate_set, plan_per_cell
from fairskin_core.images import read_rgb, square
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.metrics.features import extract_features
from fairskin_core.metrics.floor import real_floor
from fairskin_core.metrics.inception import load_inception
from fairskin_core.metrics.memorization import copy_summary, nearest
from fairskin_core.skin_type.estimator import MODEL_DIR, SPLIT_FILE, estimate_images

FITZPATRICK17K = REPO.parent / "shared" / "real_samples" / "fitzpatrick17k_256px"
MODEL_DIAGNOSES = ("melanoma", "basal_cell_carcinoma", "squamous_cell_carcinoma")
CONFIG = {  # the shipped default model's architecture (a pixel UNet at 64 px, 2 x 2 patches, v-prediction)
    "image_size": 64, "block_out_channels": [64, 96, 128], "layers_per_block": 1, "patch_size": 2,
    "attention_levels": [False, False, True], "steps": 2500, "batch_size": 32, "learning_rate": 3e-4,
    "lr_warmup_steps": 200, "ema_decay": 0.999, "mixed_precision": "bf16", "prediction_type": "v_prediction",
    "dark_skin_oversampling": 1.5, "checkpoint_every": 250, "keep_checkpoints": 2, "log_every": 50,
}
RESULTS = REPO / "docs" / "fitzpatrick17k_generator.json"
GRID = REPO / "docs" / "images" / "fitzpatrick17k-generator-samples.jpg"


def prepare(out: Path, folder: Path = FITZPATRICK17K, steps: int = CONFIG["steps"]) -> Path:
    """The manifest (estimator's split, four diagnoses) and the training config in ``out``; returns the config."""
    out.mkdir(parents=True, exist_ok=True)
    imported = out / "imported.csv"
    import_dataset("fitzpatrick17k", folder / "fitzpatrick17k.csv", folder / "images", imported, strict=True)
    table = pd.read_csv(imported, dtype=str, keep_default_na=False)
    split = pd.read_csv(MODEL_DIR / SPLIT_FILE, dtype=str).set_index("md5hash")["split"]
    table["split"] = table["image_id"].map(split.replace({"calibration": "val"})).fillna("")
    if (table["split"] == "").any():
        raise ValueError(f"{int((table['split'] == '').sum())} images are not in {MODEL_DIR / SPLIT_FILE}: is {folder} the shared copy?")
    table["diagnosis"] = table["diagnosis"].where(table["diagnosis"].isin(MODEL_DIAGNOSES), "other")
    table["malignant"] = table["three_partition_label"].eq("malignant").map({True: "true", False: "false"})
    write_manifest(table, out / "manifest.csv")
    config = {"manifest": str((out / "manifest.csv").resolve()), "output_dir": str((out / "model").resolve()), "split": "train",
              **CONFIG, "steps": steps}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out / "config.json"


def _features(paths: list[Path]) -> np.ndarray:
    result = extract_features(paths, load_inception())
    if result.failures:
        raise ValueError(f"{len(result.failures)} images could not be read, first: {next(iter(result.failures.values()))}")
    return result.features


def _pixels(paths: list[Path], size: int) -> np.ndarray:
    """Images as the model saw them in training (centre square at ``size``), flattened: for nearest-neighbour search."""
    return np.stack([square(read_rgb(path), size).astype(np.float32).ravel() / 255 for path in paths])


def _in_brief(summary: dict) -> dict:
    """`copy_summary` with each distance distribution as its 1st, 50th and 99th percentiles."""
    brief = {key: value for key, value in summary.items() if not key.endswith("_distances")}
    for key in ("synthetic_distances", "heldout_distances"):
        brief[key.replace("_distances", "_distance_p1_p50_p99")] = np.percentile(summary[key], [1, 50, 99]).round(2).tolist()
    return brief


def evaluate(out: Path, per_type: int) -> int:
    """Sample, measure against the held-out test rows, write the figures and the grid into docs/."""
    manifest = read_manifest(out / "manifest.csv", check_files="exists")
    table = manifest.table
    files = {row.image_id: manifest.image_file(row.image_path, row.image_root) for row in table.itertuples()}
    test, train = table[table["split"] == "test"], table[table["split"] == "train"]
    backend = load_backend(out / "model")
    diagnoses = sorted(set(train["diagnosis"]))
    per_cell = max(1, per_type // len(diagnoses))
    started = time.perf_counter()
    samples = out / "samples"
    generate_set(backend, plan_per_cell(per_cell, list(range(1, 7)), diagnoses, seed=0), samples, steps=25, guidance=3.0,
                 scheduler="ddim")
    sampling = time.perf_counter() - started
    generated = read_manifest(samples / "manifest.csv").table
    generated_files = [samples / path for path in generated["image_path"]]
    measured = estimate_images([read_rgb(path) for path in generated_files])
    generated["fst_estimate"] = [record["fst_estimate"] for record in measured]
    fidelity = agreement_report(generated.assign(fst=generated["fst"].astype(int)))
    real_features = dict(zip(test["image_id"], _features([files[i] for i in test["image_id"]]), strict=True))
    synthetic_features = _features(generated_files)
    per_type_figures = {}
    for fst in range(1, 7):
        real = np.stack([real_features[i] for i in test.loc[test["fst"] == fst, "image_id"]])
        per_type_figures[str(fst)] = {"real_test_images": len(real), **real_floor(real, synthetic_features[generated["fst"] == fst])}
    size = backend.image_size
    train_pixels = _pixels([files[i] for i in train["image_id"]], size)
    to_train = nearest(_pixels(generated_files, size), train_pixels)
    held_out_to_train = nearest(_pixels([files[i] for i in test["image_id"]], size), train_pixels)
    results = {
        "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        "training": json.loads((out / "model" / "train_config.json").read_text()) if (out / "model" / "train_config.json").is_file()
        else None,
        "samples": {"images": len(generated), "per_cell": per_cell, "diagnoses": diagnoses, "steps": 25, "guidance": 3.0,
                    "scheduler": "ddim", "seconds": round(sampling, 1)},
        "fst_fidelity_learned_estimator": fidelity,
        "per_type": per_type_figures,
        "memorization_pixels": {"space": f"{size} x {size} px, the training crop",
                                **_in_brief(copy_summary(to_train.distance, held_out_to_train.distance))},
    }
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
    order = generated.assign(file=generated_files).sort_values(["fst", "diagnosis", "image_id"])
    rows = []
    for fst in range(1, 7):
        picked = [f for d in diagnoses for f in order[(order["fst"] == fst) & (order["diagnosis"] == d)]["file"].head(2)]
        rows.append(np.concatenate([np.asarray(Image.open(f).convert("RGB").resize((128, 128), Image.Resampling.LANCZOS))
                                    for f in picked], axis=1))
    GRID.parent.mkdir(exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(GRID, quality=90)
    print(json.dumps({k: results[k] for k in ("samples", "memorization_pixels")}, indent=1, default=str))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("prepare", "evaluate"))
    parser.add_argument("--out", type=Path, required=True, help="working folder (manifest, config, model, samples)")
    parser.add_argument("--steps", type=int, default=CONFIG["steps"])
    parser.add_argument("--per-type", type=int, default=100, help="generated images per skin type (evaluate)")
    args = parser.parse_args()
    if not FITZPATRICK17K.is_dir():
        print(f"needs the shared Fitzpatrick17k copy at {FITZPATRICK17K}", file=sys.stderr)
        return 2
    if args.stage == "prepare":
        print(prepare(args.out, steps=args.steps))
        return 0
    return evaluate(args.out, args.per_type)


if __name__ == "__main__":
    raise SystemExit(main())
