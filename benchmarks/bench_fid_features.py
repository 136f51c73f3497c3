"""FID of two image folders: fairskin's pipeline against `python -m pytorch_fid`, on the same weights.

    python benchmarks/bench_fid_features.py [--n 1000]

Renders two phantom sets of N images (128 px), converts the TorchScript Inception into a
temporary TORCH_HOME so pytorch-fid runs offline on the very weights we use, then times, each as
a fresh process (interpreter, imports and model loading included, as a user would run it):

- the reference: ``python -m pytorch_fid REAL SYNTHETIC --device cpu`` (its default workers);
- fairskin on a cold feature cache (both sets computed);
- fairskin with the real set already cached (only the synthetic set computed), which is how a
  report runs again and again against one real set; pytorch-fid recomputes both every time.

Prints a Markdown table for docs/benchmarks.md and both FIDs; the targets are >= 1.0x pytorch-fid's
speed on a cold cache and >= 1.8x with the real set cached.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.metrics.features import FeatureCache, extract_features
from fairskin_core.metrics.fid import fid
from fairskin_core.metrics.inception import load_inception, write_pytorch_fid_weights
from fairskin_core.phantoms.dataset import write_phantom_dataset


def images_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


def ours(real: Path, synthetic: Path, cache: Path) -> None:
    """One fairskin FID, as a process of its own; prints its FID and cache hits as JSON."""
    extractor, cache = load_inception(allow_download=False), FeatureCache(cache)
    results = [extract_features(images_of(folder), extractor, cache=cache) for folder in (real, synthetic)]
    print(json.dumps({
        "fid": fid(results[0].features, results[1].features), "cached": sum(r.cached for r in results), "weights": extractor.id,
    }))


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, completed.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per set (two sets)")
    parser.add_argument("--ours", nargs=3, metavar=("REAL", "SYNTHETIC", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:
        ours(*map(Path, args.ours))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        real = write_phantom_dataset(tmp / "real", n=args.n, preset="ham10000", size=128, seed=1).parent / "images"
        synthetic = write_phantom_dataset(tmp / "synthetic", n=args.n, preset="balanced", size=128, seed=2).parent / "images"
        write_pytorch_fid_weights(tmp / "torch_home")
        os.environ.update(TORCH_HOME=str(tmp / "torch_home"), FAIRSKIN_HOME=str(tmp / "home"), PYTHONPATH=str(REPO))
        # The real set alone in a cache of its own, computed here (untimed).
        extract_features(images_of(real), load_inception(allow_download=False), cache=FeatureCache(tmp / "real_only.sqlite"))

        reference, stdout = timed([sys.executable, "-m", "pytorch_fid", str(real), str(synthetic), "--device", "cpu"])
        reference_fid = float(re.search(r"FID:\s+(\S+)", stdout).group(1))
        runs = {}
        for what, cache in (("cold cache", tmp / "cold.sqlite"), ("real set cached", tmp / "real_only.sqlite")):
            seconds, stdout = timed([sys.executable, __file__, "--ours", str(real), str(synthetic), str(cache)])
            runs[what] = (seconds, json.loads(stdout))

    total = 2 * args.n
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, 2 sets of {args.n} phantoms (128 px)")
    print(f"weights: {runs['cold cache'][1]['weights']}\n")
    print("| what | images computed | seconds | images/s | speed vs pytorch-fid | FID |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| python -m pytorch_fid (reference) | {total} | {reference:.1f} | {total / reference:.1f} | 1.0× | {reference_fid:.4f} |")
    for what, (seconds, result) in runs.items():
        computed = total - result["cached"]
        print(f"| fairskin, {what} | {computed} | {seconds:.1f} | {total / seconds:.1f} | "
              f"{reference / seconds:.2f}× | {result['fid']:.4f} |")


if __name__ == "__main__":
    main()
