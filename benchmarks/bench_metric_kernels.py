"""KID and sensitivity at specificity: fairskin's against the reference computation, in one run.

    python benchmarks/bench_metric_kernels.py [--repeats 5]

- KID of two feature sets (2048-d, 117 × 181 as the tone-transfer test's, and 1,000 × 1,000) over 100 subsets:
  `fairskin_core.metrics.kid.kid`, whose kernels are computed once, against the unbiased MMD² of each subset
  computed on its own (what clean-fid and torch-fidelity do).
- Sensitivity at 90 % specificity of 400 scores with ties: `sensitivity_at_specificity` against sklearn's
  `roc_curve(drop_intermediate=False)`, the call the verdict's bootstraps repeat thousands of times.

Both pairs must agree (KID to 1e-12 relative, sensitivity exactly). Prints a Markdown table for docs/benchmarks.md;
one BLAS thread, as a test worker or a busy server has.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fairskin_core.downstream.metrics import _RATIO_TOLERANCE, sensitivity_at_specificity
from fairskin_core.metrics.kid import kid, mmd2_unbiased

SUBSETS, SUBSET_SIZE = 100, 100


def kid_per_subset(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """The reference: each subset's MMD² from its own kernels (the same subsets `kid` draws)."""
    size, rng = min(SUBSET_SIZE, len(a), len(b)), np.random.default_rng(seed)
    draws = [(rng.choice(len(a), size, replace=False), rng.choice(len(b), size, replace=False)) for _ in range(SUBSETS)]
    return float(np.mean([mmd2_unbiased(a[i], b[j]) for i, j in draws]))


def sensitivity_by_sklearn(y: np.ndarray, score: np.ndarray, specificity: float = 0.9) -> float:
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    return float(tpr[1 - fpr >= specificity - _RATIO_TOLERANCE].max())


def best_of(repeats: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.process_time()
        result = call()
        times.append(time.process_time() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(1):
        for m, n in ((117, 181), (1000, 1000)):
            a, b = rng.normal(size=(m, 2048)), rng.normal(0.1, 1.0, size=(n, 2048))
            ours, mine = best_of(args.repeats, lambda a=a, b=b: kid(a, b, subsets=SUBSETS, subset_size=SUBSET_SIZE).mean)
            reference, theirs = best_of(args.repeats, lambda a=a, b=b: kid_per_subset(a, b))
            assert abs(mine - theirs) <= 1e-12 * abs(theirs), (mine, theirs)
            rows.append((f"KID, {m} × {n} features, {SUBSETS} subsets", reference, ours))
        y = rng.integers(0, 2, 400)
        score = np.round(rng.normal(y, 1.0), 1)  # rounded: many ties between the classes
        calls = 1000
        ours, mine = best_of(args.repeats, lambda: [sensitivity_at_specificity(y, score) for _ in range(calls)][-1])
        reference, theirs = best_of(args.repeats, lambda: [sensitivity_by_sklearn(y, score) for _ in range(calls)][-1])
        assert mine == theirs, (mine, theirs)
        rows.append((f"sensitivity at 90 % specificity, 400 scores, {calls} calls", reference, ours))
    print("| computation | reference (CPU s) | fairskin (CPU s) | speed-up |")
    print("| --- | --- | --- | --- |")
    for name, reference, ours in rows:
        print(f"| {name} | {reference:.3f} | {ours:.3f} | {reference / ours:.1f}× |")
    print(f"\nMachine: {platform.machine()}, {platform.python_version()}, best of {args.repeats}, one BLAS thread.")


if __name__ == "__main__":
    main()
