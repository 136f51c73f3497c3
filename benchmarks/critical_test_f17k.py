"""The research plan's critical test (§4.3) on real photographs with annotated skin types: the shared Fitzpatrick17k copy.

    python benchmarks/critical_test_f17k.py --out WORK [--seeds 3] [--compare-classifiers]

1. Imports the copy and splits it as biased as public data (`fairskin_core.downstream.biased_split`):
   training holds every I–IV image left after the test and 5% V–VI; validation is drawn from the
   same biased population; the test holds the rest of V–VI (less the oracle's) and as many I–IV
   images; near-duplicate pairs (``near_duplicates_dhash.csv``) stay on one side. ``WORK/splits.csv``
   records every image's part; the manifests are ``train.csv`` (train and val rows), ``test.csv``,
   ``oracle.csv``.
2. Fits the tone transfer's skin optics on the training split alone (``optics.json``), so no test
   photograph is a colour reference, and moves as many training I–IV images to V–VI (half to each)
   as the oracle adds real V–VI images (``tone-transfer/``).
3. Runs `fairskin downstream` on them: real-only, skin-type reweighting, colour jitter, the tone
   transfer mixed / reweighted / pretrain-finetune, and the oracle, ``--seeds`` each, the default
   classifier (frozen EfficientNet-Lite0, a linear head on features computed once), with the
   counterfactual tone audit (``--audit`` test images per type). The report is in ``WORK/report``.
4. With ``--compare-classifiers``: real-only with each classifier, one seed, scored on the
   *validation* split only — how the default classifier was chosen.

Writes ``docs/critical_test_f17k.json``: counts, timings, machine, the verdict, the oracle gap and
the audit. The Stable Diffusion arm needs weights and a GPU.

Our own diffusion model's arm, trained on the biased training split only:

    python benchmarks/critical_test_f17k.py --out WORK --generator-config 1500   # WORK/generator/config.json
    fairskin train --config WORK/generator/config.json                           # resumable
    python benchmarks/critical_test_f17k.py --out WORK --generator WORK/generator/model --seeds 3

The generator learns the three cancers the importer names and ``other`` for every non-malignant
condition (other malignancies are left out of its training rows, so ``other`` means benign); it
makes as many V–VI images as the oracle adds, diagnoses in the training split's proportions.
Results: ``WORK/report-generator`` and ``docs/critical_test_f17k_generator.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # fitzpatrick17k_generator: our model's architecture

from fairskin_core.downstream.biased_split import biased_split
from fairskin_core.downstream.experiment import run_experiment
from fairskin_core.downstream.report import downstream_report
from fairskin_core.downstream.settings import ExperimentSettings
from fairskin_core.generation.melanin_transfer import MelaninToneTransfer, SkinOptics
from fairskin_core.generation.tone_transfer import tone_transfer_set
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import write_manifest
from fairskin_core.skin_optics.calibration import fit_skin_optics, save_skin_optics

FITZPATRICK17K = REPO.parent / "shared" / "real_samples" / "fitzpatrick17k_256px"
RESULTS = REPO / "docs" / "critical_test_f17k.json"
GENERATOR_RESULTS = REPO / "docs" / "critical_test_f17k_generator.json"
SPLIT_SEED = 0
CLASSIFIER_SIZES = {"small-cnn": 64, "alexnet": 160, "efficientnet-lite0": 160}


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def prepare_sets(out: Path, folder: Path = FITZPATRICK17K, seed: int = SPLIT_SEED) -> dict[str, Path]:
    """The biased split's manifests in ``out`` (reused when there): train (train + val rows), test, oracle."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in ("train", "test", "oracle")}
    if all(path.is_file() for path in paths.values()):
        return paths
    imported = out / "imported.csv"
    if not imported.is_file():
        import_dataset("fitzpatrick17k", folder / "fitzpatrick17k.csv", folder / "images", imported, strict=True)
    table = pd.read_csv(imported, dtype=str, keep_default_na=False)
    pairs = pd.read_csv(folder / "near_duplicates_dhash.csv", dtype=str)
    table["split"] = biased_split(table, seed=seed, duplicate_groups=dict(zip(pairs["md5hash"], pairs["group"], strict=True)))
    table[["image_id", "split", "fst", "malignant", "diagnosis"]].to_csv(out / "splits.csv", index=False)
    write_manifest(table[table["split"].isin(["train", "val"])], paths["train"])
    write_manifest(table[table["split"] == "test"], paths["test"])
    write_manifest(table[table["split"] == "oracle"].assign(split=""), paths["oracle"])
    return paths


def tone_transferred(out: Path, train: Path, n_images: int, seed: int, folder: Path = FITZPATRICK17K) -> Path:
    """``n_images`` synthetic V–VI images: half as many training I–IV images, each moved to V and to VI, with skin optics
    fitted on the training split only. Reused when there."""
    manifest = out / "tone-transfer" / "manifest.csv"
    if manifest.is_file():
        return manifest
    table = pd.read_csv(train, dtype=str, keep_default_na=False)
    optics_file = out / "optics.json"
    if not optics_file.is_file():
        say(f"fitting the skin optics on the {len(table)} training and validation photographs")
        save_skin_optics(fit_skin_optics(folder, images=table["image_id"].tolist()), optics_file)
    light = table[(table["split"] == "train") & (table["fst"].astype(int) <= 4)]
    chosen = light.sample(n=n_images // 2, random_state=seed)["image_id"].tolist()
    say(f"moving {len(chosen)} training I–IV images to V and to VI")
    return tone_transfer_set(MelaninToneTransfer(SkinOptics.load(optics_file)), train, out / "tone-transfer", (5, 6), seed=seed,
                             image_ids=chosen)


def generator_config(out: Path, train: Path, steps: int) -> Path:
    """Our model's training manifest (module docstring) and config in ``out/generator``; returns the config."""
    from fitzpatrick17k_generator import CONFIG, MODEL_DIAGNOSES

    table = pd.read_csv(train, dtype=str, keep_default_na=False)
    table = table[table["diagnosis"].isin(MODEL_DIAGNOSES) | (table["malignant"] != "true")]
    table = table.assign(diagnosis=table["diagnosis"].where(table["diagnosis"].isin(MODEL_DIAGNOSES), "other"))
    folder = out / "generator"
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(table, folder / "manifest.csv")
    config = {"manifest": str((folder / "manifest.csv").resolve()), "output_dir": str((folder / "model").resolve()), "split": "train",
              **CONFIG, "steps": steps}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder / "config.json"


def generated(out: Path, model: Path, n_images: int, seed: int) -> Path:
    """``n_images`` V–VI images of our model (half each), diagnoses in its training rows' proportions; ``other`` is benign."""
    from fairskin_core.generation.backends import load_backend
    from fairskin_core.generation.planned_set import generate_set, plan_images

    folder = out / "generated"
    training = pd.read_csv(out / "generator" / "manifest.csv", dtype=str, keep_default_na=False)
    training = training[training["split"] == "train"]
    mix = training["diagnosis"].value_counts(normalize=True).to_dict()
    say(f"generating {n_images} V–VI images with {model}, diagnoses {', '.join(f'{d} {w:.0%}' for d, w in mix.items())}")
    generate_set(load_backend(model), plan_images(n_images, {5: 1.0, 6: 1.0}, mix, seed), folder, steps=25, guidance=3.0,
                 scheduler="ddim")
    table = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    table.loc[table["diagnosis"] == "other", "malignant"] = "false"  # learned from non-malignant conditions only
    write_manifest(table, folder / "manifest-labelled.csv")
    return folder / "manifest-labelled.csv"


def compare_classifiers(paths: dict[str, Path], seed: int) -> dict:
    """Real-only with each classifier (one seed), judged on the validation split only."""
    compared = {}
    for classifier, size in CLASSIFIER_SIZES.items():
        settings = ExperimentSettings(train=str(paths["train"]), test=str(paths["test"]), strategies=("real-only",), seeds=1,
                                      classifier=classifier, size=size)
        started = time.monotonic()
        result = run_experiment(settings, progress=say)
        compared[classifier] = {"size": size, "validation_auroc": result.runs[0].validation_auroc,
                                "seconds": round(time.monotonic() - started, 1)}
        say(f"{classifier}: validation AUROC {compared[classifier]['validation_auroc']:.3f}")
    return compared


def _brief(report: dict) -> dict:
    """What docs/experiments.md quotes: counts, per-group AUROC and sensitivity, the verdicts, the oracle gap, the audit."""
    rows = [r for r in report["by_group"] if r["group"] in ("all", "I-II", "III-IV", "V-VI")]
    return {
        "data": report["data"],
        "by_group": [{k: r[k] for k in ("model", "group", "n", "n_positive", "auroc", "auroc_low", "auroc_high",
                                        "sensitivity_at_specificity", "tpr", "fpr", "ece")} for r in rows],
        "fairness": {m: {k: f[k]["mean"] for k in ("eod_signed", "eod_max_min", "equalized_odds")} for m, f in report["fairness"].items()},
        "verdict": report["verdict"],
        "oracle_gap": report["oracle_gap"],
        "tone_audit": report["tone_audit"],
        "validation_auroc": {m: float(np.mean([r["validation_auroc"] for r in report["runs"] if r["strategy"] == m]))
                             for m in dict.fromkeys(r["strategy"] for r in report["runs"])},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="working folder (manifests, tone-transferred images, report)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--audit", type=int, default=50, help="test images per skin type in the counterfactual tone audit")
    parser.add_argument("--compare-classifiers", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="replace WORK/report")
    parser.add_argument("--generator-config", type=int, metavar="STEPS", help="only write our model's training config (docstring)")
    parser.add_argument("--generator", type=Path, metavar="MODEL", help="the synthetic arm: our model trained on WORK/train.csv")
    args = parser.parse_args()
    if not FITZPATRICK17K.is_dir():
        print(f"needs the shared Fitzpatrick17k copy at {FITZPATRICK17K}", file=sys.stderr)
        return 2
    started = time.monotonic()
    paths = prepare_sets(args.out)
    if args.generator_config:
        print(f"fairskin train --config {generator_config(args.out, paths['train'], args.generator_config)}")
        return 0
    n_oracle = len(pd.read_csv(paths["oracle"]))
    if args.generator:
        synthetic, name, results_file = generated(args.out, args.generator, n_oracle, SPLIT_SEED), "report-generator", GENERATOR_RESULTS
        strategies = ("real-only", "mixed", "reweighted", "pretrain-finetune", "oracle")  # the others do not use it: see RESULTS
    else:
        synthetic, name, results_file = tone_transferred(args.out, paths["train"], n_oracle, seed=SPLIT_SEED), "report", RESULTS
        strategies = None
    prepared = time.monotonic() - started
    settings = ExperimentSettings(train=str(paths["train"]), test=str(paths["test"]), synthetic=str(synthetic), oracle=str(paths["oracle"]),
                                  strategies=strategies, seeds=args.seeds, size=args.size, tone_audit=args.audit)
    report, folder = downstream_report(settings, args.out / name, overwrite=args.overwrite, progress=say)
    results = {
        "command": f"python benchmarks/critical_test_f17k.py --out WORK --seeds {args.seeds} --size {args.size} --audit {args.audit}"
                   + (" --generator WORK/generator/model" if args.generator else ""),
        "date": str(date.today()),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "settings": {k: v for k, v in dataclasses.asdict(settings.checked()).items() if k not in ("train", "test", "synthetic", "oracle")},
        "seconds": {"prepare (import, split, optics, tone transfer; reused when there)": round(prepared, 1),
                    "experiment": round(report["seconds"], 1), "of which features": round(report["feature_seconds"], 1)},
        **_brief(report),
    }
    if args.compare_classifiers:
        results["classifier_comparison"] = compare_classifiers(paths, SPLIT_SEED)
    results_file.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print("\n".join(report["notes"]))
    print(f"wrote {folder} and {results_file} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
