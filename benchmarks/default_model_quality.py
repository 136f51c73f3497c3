"""How good is a trained FST-conditioned model? The figures its model card reports.

    python benchmarks/default_model_quality.py [--model fairskin_core/default_model] [--per-fst 100]

On ``--per-fst`` generated images per skin type (diagnoses balanced over the model's), measured
with fairskin's own modules:

- FST fidelity: the ITA-derived skin type of each image against the requested one (exact, ±1,
  per type; targets ≥ 90% within one overall, ≥ 85% for V and for VI);
- diagnosis: a classifier trained on phantoms (logistic regression on Inception features,
  phantom seeds never seen by the model) names the generated lesion's diagnosis (target ≥ 70%);
  its accuracy on held-out phantoms is the ceiling to read that against;
- FID and KID against held-out phantoms, next to the floor: the same figures between two
  independent phantom sets of the same size;
- speed of generating the set.

Writes ``quality.json`` into the model folder and regenerates its model card.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.analysis.pipeline import analyse_manifest
from fairskin_core.diffusion.model_folder import DEFAULT_MODEL
from fairskin_core.fst import FST_TYPES, ROMAN
from fairskin_core.generation.backends import FSTModelBackend
from fairskin_core.generation.planned_set import generate_set, plan_images
from fairskin_core.manifest import read_manifest
from fairskin_core.metrics.features import extract_features
from fairskin_core.metrics.fid import RankDeficientCovarianceWarning, fid
from fairskin_core.metrics.fidelity import fst_fidelity
from fairskin_core.metrics.inception import load_inception
from fairskin_core.metrics.kid import kid
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.training.model_card import write_model_card


def pct(value: float | None) -> str:
    return "not measurable" if value is None else f"{value:.1%}"


def misses(taken_for: dict[str, int]) -> str:
    """The table cell's tail, e.g. ", misses taken for melanoma 27, nevus 8"; empty when nothing was missed."""
    return ", misses taken for " + ", ".join(f"{d} {k}" for d, k in taken_for.items()) if taken_for else ""


def features_and_labels(manifest_path: Path, extractor) -> tuple[np.ndarray, np.ndarray]:
    manifest = read_manifest(manifest_path)
    result = extract_features(manifest.image_files(), extractor)
    return result.features[result.ok], manifest.table["diagnosis"].to_numpy()[result.ok]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--per-fst", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--scheduler", default="ddim")
    parser.add_argument("--classifier-images", type=int, default=1200, help="phantoms the diagnosis classifier learns from")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RankDeficientCovarianceWarning)  # 600 images < 2048 dimensions: compare with the floor, at equal sizes

    backend = FSTModelBackend(args.model)
    size = backend.image_size
    n = args.per_fst * len(FST_TYPES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = plan_images(n, dict.fromkeys(FST_TYPES, 1.0), dict.fromkeys(backend.diagnoses, 1.0), args.seed)
        start = time.perf_counter()
        generated = generate_set(
            backend, plan, tmp / "generated", steps=args.steps, guidance=args.guidance, scheduler=args.scheduler, batch_size=32
        )
        seconds = time.perf_counter() - start

        measured = analyse_manifest(read_manifest(generated))
        fidelity = fst_fidelity(measured)

        # Phantom seeds the default model never saw (it trained on seed 100).
        classifier_train = write_phantom_dataset(tmp / "clf-train", n=args.classifier_images, preset="balanced", size=size, seed=200)
        heldout = write_phantom_dataset(tmp / "heldout", n=n, preset="balanced", size=size, seed=300)
        floor_set = write_phantom_dataset(tmp / "floor", n=n, preset="balanced", size=size, seed=400)
        extractor = load_inception()
        x_train, y_train = features_and_labels(classifier_train, extractor)
        x_heldout, y_heldout = features_and_labels(heldout, extractor)
        x_floor, _ = features_and_labels(floor_set, extractor)
        x_generated, y_generated = features_and_labels(generated, extractor)
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1)).fit(x_train, y_train)
        ceiling = float((classifier.predict(x_heldout) == y_heldout).mean())
        recognised = float((classifier.predict(x_generated) == y_generated).mean())
        predicted = classifier.predict(x_generated)
        per_diagnosis = {d: float((predicted[y_generated == d] == d).mean()) for d in sorted(set(y_generated))}
        # What each diagnosis's misses were taken for: names what the model has not learned.
        taken_for = {d: pd.Series(predicted[(y_generated == d) & (predicted != d)]).value_counts().to_dict() for d in per_diagnosis}

        quality = {
            "measured": date.today().isoformat(),
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
            "images": n,
            "sampler": {"scheduler": args.scheduler, "steps": args.steps, "guidance": args.guidance, "seed": args.seed},
            "generation_images_per_second": n / seconds,
            "fst_within_one": fidelity["within_one"],
            "fst_exact": fidelity["exact"],
            "fst_within_one_by_type": fidelity["within_one_by_type"],
            "fst_measured": fidelity["n_estimated"],
            "diagnosis_recognised": recognised,
            "diagnosis_recognised_by_diagnosis": per_diagnosis,
            "diagnosis_misses_taken_for": {d: {k: int(v) for k, v in counts.items()} for d, counts in taken_for.items()},
            "classifier_ceiling_on_phantoms": ceiling,
            "fid_vs_heldout_phantoms": fid(x_heldout, x_generated),
            "kid_vs_heldout_phantoms": kid(x_heldout, x_generated, subset_size=n // 2)._asdict(),
            "fid_floor_phantom_vs_phantom": fid(x_heldout, x_floor),
            "kid_floor_phantom_vs_phantom": kid(x_heldout, x_floor, subset_size=n // 2)._asdict(),
        }

    by_type = quality["fst_within_one_by_type"]
    rows = [
        f"| ITA-derived FST within ±1 of the requested | {pct(quality['fst_within_one'])} "
        f"(exact {pct(quality['fst_exact'])}, {quality['fst_measured']} of {n} measurable) | ≥ 90% |",
        *(
            f"| … requested type {ROMAN[t]} | {pct(by_type[ROMAN[t]])} | {'≥ 85%' if t >= 5 else ''} |"
            for t in FST_TYPES if ROMAN[t] in by_type
        ),
        f"| diagnosis recognised by a phantom-trained classifier | {recognised:.1%} "
        f"(classifier on held-out phantoms: {ceiling:.1%}) | ≥ 70% |",
        *(f"| … {d} | {a:.1%}{misses(quality['diagnosis_misses_taken_for'][d])} | |" for d, a in per_diagnosis.items()),
        f"| FID vs {n} held-out phantoms | {quality['fid_vs_heldout_phantoms']:.1f} "
        f"(floor, phantoms vs phantoms: {quality['fid_floor_phantom_vs_phantom']:.1f}) | |",
        f"| KID vs held-out phantoms | {quality['kid_vs_heldout_phantoms']['mean']:.4f} ± {quality['kid_vs_heldout_phantoms']['std']:.4f} "
        f"(floor {quality['kid_floor_phantom_vs_phantom']['mean']:.4f} ± {quality['kid_floor_phantom_vs_phantom']['std']:.4f}) | |",
        f"| generation speed ({args.scheduler}, {args.steps} steps, guidance {args.guidance}, batches of 32) "
        f"| {quality['generation_images_per_second']:.2f} images/s | |",
    ]
    quality["markdown"] = "\n".join([
        f"Measured {quality['measured']} by `python benchmarks/default_model_quality.py` on {n} generated images "
        f"({args.per_fst} per skin type, diagnoses balanced), {quality['machine']}.",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        *rows,
    ])
    (args.model / "quality.json").write_text(json.dumps(quality, indent=2))
    write_model_card(args.model)
    print(quality["markdown"])


if __name__ == "__main__":
    main()
