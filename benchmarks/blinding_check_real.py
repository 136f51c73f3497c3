"""How often the blinding check (`review_data.arm_separability`) warns on real images: false alarms on arms of one source,
and warnings where a trivial feature does give the arm away.

    python benchmarks/blinding_check_real.py [--seeds 10] [--per-arm 30 60]

Arms are drawn from ../shared/real_samples (or $FAIRSKIN_REAL_SAMPLES), shown as a study shows them (`render_blinded`,
at 256 px), over several seeds:

- ISIC 2017 | ISIC 2017: two disjoint random halves of one dataset, 256 px JPEGs both. Parity: any warning is a false alarm.
- ISIC 2017 by id, first half | last half: the archive's earlier and later images (other clinics, cameras, years) — one
  dataset by name, two by acquisition.
- ISIC 2017 | ISIC 2017 as PNG: other images of ISIC 2017, saved losslessly as PNG. Only the file format differs: a tell.
- ISIC 2017 | HAM10000: 256 px JPEGs against 600 × 450 JPEGs of another dataset. Sizes, cameras and colours differ.

For each, the median cross-validated AUC (all features, and each family alone), how often it is above 0.7, how often the
check warns (above 0.7 and permutation p < 0.05), and the median seconds of one check. Prints Markdown for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from review_data.arm_separability import SEPARABLE_AUC, arm_separability, trivial_features
from review_data.blinding import render_blinded

REAL = Path(os.environ.get("FAIRSKIN_REAL_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "real_samples")
SIZE = 256  # the study size both datasets allow (ISIC 2017 here is 256 px)


@cache
def features(path: Path) -> dict[str, float]:
    return trivial_features(path, render_blinded(path, SIZE))


def as_png(paths: list[Path], folder: Path) -> list[Path]:
    """The images saved losslessly as PNG in ``folder``: the same pixels, another format."""
    saved = []
    for path in paths:
        target = folder / f"{path.stem}.png"
        if not target.exists():
            Image.open(path).convert("RGB").save(target)
        saved.append(target)
    return saved


def cases(folder: Path) -> dict[str, tuple[list[Path], list[Path]]]:
    """Per case, the pools its two arms are drawn from (disjoint, so no image stands in both)."""
    by_id = sorted((REAL / "isic2017_256px_train").rglob("*.jpg"))
    isic = [by_id[i] for i in np.random.default_rng(0).permutation(len(by_id))]
    ham = sorted((REAL / "ham10000_sample70").rglob("*.jpg"))
    half = len(isic) // 2
    return {
        "ISIC 2017 \\| ISIC 2017, random halves (parity)": (isic[:half], isic[half:]),
        "ISIC 2017 by id: first half \\| last half": (by_id[:half], by_id[half:]),
        "ISIC 2017 \\| ISIC 2017 as PNG": (isic[:half], as_png(isic[half:half + 200], folder)),
        "ISIC 2017 \\| HAM10000": (isic[:half], ham),
    }


def run(seeds: int, per_arm: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (real_pool, synthetic_pool) in cases(Path(folder)).items():
            for n in per_arm:
                n_synthetic = min(n, len(synthetic_pool))
                aucs, warned, above, seconds, p_values, families = [], 0, 0, [], [], {"file traits": [], "shown pixels": []}
                for seed in range(seeds):
                    rng = np.random.default_rng([seed, n])
                    arms = {"real": [features(real_pool[i]) for i in rng.choice(len(real_pool), n, replace=False)],
                            "synthetic": [features(synthetic_pool[i]) for i in rng.choice(len(synthetic_pool), n_synthetic, replace=False)]}
                    started = time.perf_counter()
                    check = arm_separability(arms, seed)
                    seconds.append(time.perf_counter() - started)
                    aucs.append(check.auc["all"])
                    for family, values in families.items():
                        values.append(check.auc[family])
                    above += max(check.auc.values()) > SEPARABLE_AUC
                    warned += check.separable
                    if check.p_value is not None:
                        p_values.append(check.p_value)
                rows.append({"case": name, "per_arm": f"{n} / {n_synthetic}", "auc": float(np.median(aucs)),
                             "auc_range": (min(aucs), max(aucs)), "above": above, "warned": warned, "seeds": seeds,
                             "families": {family: float(np.median(values)) for family, values in families.items()},
                             "p": float(np.median(p_values)) if p_values else None, "seconds": float(np.median(seconds))})
                print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| arms | images per arm | median AUC, all [range] | file traits | shown pixels | above 0.7 | warned (p < 0.05) | "
             "median p | seconds per check |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        p = "—" if row["p"] is None else f"{row['p']:.2f}"
        lines.append(f"| {row['case']} | {row['per_arm']} | {row['auc']:.2f} [{row['auc_range'][0]:.2f}–{row['auc_range'][1]:.2f}] | "
                     f"{row['families']['file traits']:.2f} | {row['families']['shown pixels']:.2f} | "
                     f"{row['above']} of {row['seeds']} | {row['warned']} of {row['seeds']} | {p} | {row['seconds']:.1f} |")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return "\n".join(lines) + f"\n\nMachine: {machine}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--per-arm", type=int, nargs="+", default=[30, 60])
    args = parser.parse_args()
    if not (REAL / "isic2017_256px_train").is_dir():
        raise SystemExit(f"{REAL}: the real samples are not there (set FAIRSKIN_REAL_SAMPLES)")
    print(markdown(run(args.seeds, args.per_arm)))


if __name__ == "__main__":
    main()
