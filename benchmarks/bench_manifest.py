"""Manifest validation throughput on 100k rows, against pandas.read_csv of the same file.

    python benchmarks/bench_manifest.py [--rows 100000]

Writes ROWS tiny PNG files and a manifest naming them into a temporary folder, then times
`read_manifest` at each file-check level and `pandas.read_csv` (parsing alone, no checks) as
the reference, in one run. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import PRESETS

HEADER = "image_id,image_path,diagnosis,malignant,fst,fst_source,source,dataset,split\n"


def build(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    (folder / "images").mkdir()
    diagnoses = list(PRESETS["balanced"].diagnosis_mix)
    malignant = {"melanoma": "true", "basal_cell_carcinoma": "true"}
    lines = [HEADER]
    for i in range(rows):
        shard = folder / "images" / f"{i // 1000:03d}"
        if i % 1000 == 0:
            shard.mkdir()
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(shard / f"{i}.png")
        dx = diagnoses[i % len(diagnoses)]
        lines.append(f"img{i},images/{i // 1000:03d}/{i}.png,{dx},{malignant.get(dx, 'false')},{1 + i % 6},annotated,real,bench,train\n")
    path = folder / "manifest.csv"
    path.write_text("".join(lines))
    return path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp), args.rows)
        reference = min(timed(lambda: pd.read_csv(path, dtype=str, keep_default_na=False)) for _ in range(3))
        print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, rows: {args.rows}\n")
        print("| what | seconds | rows/s | time vs pandas.read_csv |")
        print("| --- | --- | --- | --- |")
        print(f"| pandas.read_csv (parse only, reference) | {reference:.2f} | {args.rows / reference:,.0f} | 1.0× |")
        for level in ("none", "exists", "header", "decode"):
            seconds = timed(lambda level=level: read_manifest(path, check_files=level))
            print(f"| read_manifest(check_files={level!r}) | {seconds:.2f} | {args.rows / seconds:,.0f} | {seconds / reference:.1f}× |")


if __name__ == "__main__":
    main()
