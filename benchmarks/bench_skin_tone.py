"""Skin-tone (ITA → FST) + ABCD throughput at 256 and 1024 px.

    python benchmarks/bench_skin_tone.py [--n 120]

Renders N phantoms at each size, then times `analyse_manifest` (decoding included) with the
lesion masks the manifest gives and with lesions segmented, on one process and on all cores.
The reference, in the same run: the whole-image ITA that public baselines use (decode,
CIELAB, median L* and b* of every pixel: no skin selection, no lesion, no ABCD).
Prints a Markdown table for docs/benchmarks.md; the target is >= 50 images/s at 256 px on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

from fairskin_core.analysis.ita import ita_degrees
from fairskin_core.analysis.pipeline import analyse_manifest
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset


def whole_image_ita(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        lab = rgb2lab(read_rgb(path))
        ita_degrees(np.median(lab[..., 0]), np.median(lab[..., 2]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, n = {args.n}\n")
    print("| size | what | images/s | time vs whole-image ITA |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (256, 1024):
            manifest = read_manifest(write_phantom_dataset(Path(tmp) / str(size), n=args.n, size=size, seed=3))
            paths = manifest.image_files()
            reference = whole_image_ita(paths)
            rows = [("whole-image ITA, 1 process (reference)", reference)]
            for masks in (True, False):
                for workers in sorted({1, cores}):
                    start = time.perf_counter()
                    analyse_manifest(manifest, use_masks=masks, workers=workers)
                    what = f"ITA + ABCD, {'masks given' if masks else 'lesions segmented'}, {workers} process{'es' if workers > 1 else ''}"
                    rows.append((what, time.perf_counter() - start))
            for what, seconds in rows:
                print(f"| {size} px | {what} | {args.n / seconds:.1f} | {seconds / reference:.1f}× |")


if __name__ == "__main__":
    main()
