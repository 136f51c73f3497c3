"""Phantom rendering throughput at 128 and 256 px.

    python benchmarks/bench_phantoms.py [--n 120]

For each size: `render_phantom` alone in one process; `write_phantom_dataset` (render, PNG
images and masks, manifest) with one worker and with all cores; and, as the reference in the
same run, PIL saving the very same images as PNG — the cost of writing the pixels at all.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
from pathlib import Path

from PIL import Image

from fairskin_core.phantoms import render_phantom
from fairskin_core.phantoms.dataset import plan_dataset, write_phantom_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, n = {args.n}\n")
    print("| size | what | images/s | time vs PNG save alone |")
    print("| --- | --- | --- | --- |")
    for size in (128, 256):
        plan = plan_dataset(args.n, "balanced", seed=0)
        start = time.perf_counter()
        images = [render_phantom(p["seed"], p["fst"], p["diagnosis"], size).image for p in plan]
        render = time.perf_counter() - start
        start = time.perf_counter()
        for image in images:
            Image.fromarray(image).save(io.BytesIO(), format="PNG", compress_level=6)
        save = time.perf_counter() - start
        rows = [("PIL PNG save of the same images (reference)", save), ("render_phantom, 1 process", render)]
        for workers in sorted({1, cores}):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                write_phantom_dataset(Path(tmp) / "set", n=args.n, size=size, workers=workers)
                rows.append((f"write_phantom_dataset, {workers} worker{'s' if workers > 1 else ''}", time.perf_counter() - start))
        for what, seconds in rows:
            print(f"| {size} px | {what} | {args.n / seconds:.1f} | {seconds / save:.1f}× |")


if __name__ == "__main__":
    main()
