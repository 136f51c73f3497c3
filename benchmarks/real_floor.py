"""A real-versus-real floor for every generator figure: FID / KID / LPIPS between halves of real ISIC 2017.

    python benchmarks/real_floor.py [--per-half 1000] [--sizes 64 128 256] [--generated 600]

Two disjoint random halves of the 2,000 ISIC 2017 training images (../shared/real_samples, or
$FAIRSKIN_REAL_SAMPLES), each resized to 64, 128 and 256 px (Lanczos; the copies are 256 px),
compared by fairskin's own metrics: FID and KID on the Inception-v3 FID weights, LPIPS
(AlexNet) between random cross pairs and within each set (diversity). Beside them, at 64 px,
the shipped default model's images and the phantoms against the same real half, and the
phantom floor (two phantom sets). Prints the Markdown table of docs/quality.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from fairskin_core.fst import FST_TYPES
from fairskin_core.generation.backends import FSTModelBackend
from fairskin_core.generation.planned_set import generate_set, plan_images
from fairskin_core.images import read_rgb
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import read_manifest
from fairskin_core.metrics.features import extract_features
from fairskin_core.metrics.fid import RankDeficientCovarianceWarning, fid
from fairskin_core.metrics.image_pairs import sample_pairs
from fairskin_core.metrics.inception import load_inception
from fairskin_core.metrics.kid import kid
from fairskin_core.metrics.lpips_distance import LpipsDistance
from fairskin_core.phantoms.dataset import write_phantom_dataset

REAL = Path(os.environ.get("FAIRSKIN_REAL_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "real_samples")
LPIPS_PAIRS = 500


def resized(paths: list[Path], size: int, folder: Path) -> list[Path]:
    """Copies of ``paths`` at ``size`` px (square: the ISIC copies and phantoms already are)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in paths:
        target = folder / f"{path.stem}.png"
        Image.fromarray(read_rgb(path)).resize((size, size), Image.Resampling.LANCZOS).save(target)
        out.append(target)
    return out


def images(paths: list[Path]) -> np.ndarray:
    return np.stack([read_rgb(p) for p in paths])


def compare(a_paths, b_paths, features, lpips, rng) -> dict:
    """FID, KID, LPIPS of random cross pairs, and LPIPS diversity within b."""
    a, b = features(tuple(a_paths)), features(tuple(b_paths))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        distance = fid(a, b)
    k = kid(a, b, subset_size=min(1000, len(a) // 2, len(b) // 2))
    n = min(LPIPS_PAIRS, len(a_paths), len(b_paths))
    cross_a, cross_b = rng.choice(len(a_paths), n, replace=False), rng.choice(len(b_paths), n, replace=False)
    cross = lpips.between(images([*(a_paths[i] for i in cross_a), *(b_paths[j] for j in cross_b)]),
                          np.stack([np.arange(n), n + np.arange(n)], axis=1))
    within = sample_pairs(len(b_paths), LPIPS_PAIRS, rng)
    diversity = lpips.between({i: read_rgb(b_paths[i]) for i in np.unique(within)}, within)
    return {"n": (len(a_paths), len(b_paths)), "fid": float(distance), "kid": k, "lpips_cross": float(cross.mean()),
            "lpips_within": float(diversity.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-half", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--generated", type=int, default=600, help="default-model images and phantoms at 64 px")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    extractor, lpips = load_inception(), LpipsDistance()
    features = functools.lru_cache(lambda paths: extract_features(list(paths), extractor).features)  # half A is used thrice
    rng = np.random.default_rng(args.seed)
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = REAL / "isic2017_256px_train"
        manifest = read_manifest(import_dataset("isic2017", train / "ISIC-2017_Training_Part3_GroundTruth.csv", train / "images",
                                                tmp / "isic2017_train.csv").manifest)
        files = manifest.image_files()
        order = rng.permutation(len(files))
        halves = [[files[i] for i in order[:args.per_half]], [files[i] for i in order[args.per_half : 2 * args.per_half]]]
        for size in args.sizes:
            a, b = (resized(h, size, tmp / f"isic-{size}-{k}") for k, h in enumerate(halves))
            rows.append((f"ISIC 2017 half A vs half B ({size} px)", compare(a, b, features, lpips, rng)))
        real_64 = sorted((tmp / "isic-64-0").glob("*.png"))
        backend = FSTModelBackend()
        plan = plan_images(
            args.generated, dict.fromkeys(FST_TYPES, 1.0), dict.fromkeys(("melanoma", "nevus", "seborrheic_keratosis"), 1.0), args.seed
        )
        generated = read_manifest(generate_set(backend, plan, tmp / "generated", steps=25, guidance=3.0, scheduler="ddim")).image_files()
        rows.append((
            "default model (melanoma, nevus, SK; all types) vs ISIC half A (64 px)", compare(real_64, generated, features, lpips, rng)
        ))
        phantom_sets = [
            read_manifest(write_phantom_dataset(tmp / f"phantoms-{s}", n=args.generated, preset="balanced", size=64, seed=100 + s))
            .image_files()
            for s in (0, 1)
        ]
        rows.append(("phantoms vs ISIC half A (64 px)", compare(real_64, phantom_sets[0], features, lpips, rng)))
        rows.append(("phantoms vs phantoms (64 px)", compare(phantom_sets[1], phantom_sets[0], features, lpips, rng)))
    print(f"Measured on {platform.machine()} / {platform.processor() or 'CPU'}, {os.cpu_count()} cores, "
          f"in {time.perf_counter() - started:.0f} s.\n")
    print("| comparison | images | FID | KID (± std) | LPIPS, cross pairs | LPIPS within the second set |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(f"| {name} | {r['n'][0]} : {r['n'][1]} | {r['fid']:.1f} | {r['kid'].mean:.4f} ± {r['kid'].std:.4f} | "
              f"{r['lpips_cross']:.3f} | {r['lpips_within']:.3f} |")


if __name__ == "__main__":
    main()
