"""A planned set: N images over an FST × diagnosis mix, generated resumably and sharded, with full provenance.

The plan comes first: image k of the set has a fixed skin type, diagnosis and seed
(``seed`` × 1,000,003 + k), decided before anything is generated. A process generates its
share of the plan (every ``num_processes``-th image from ``process_index``), skipping images
already on disk; after each batch it rewrites its manifest atomically, so a crash loses at
most the batch in flight and always leaves a valid manifest of what is done. One process
writes ``manifest.csv``; several (``accelerate launch``) write ``manifest.part-K.csv`` each,
merged into ``manifest.csv`` by the last step of `merge_parts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from ..atomic import atomic_file
from ..diagnoses import MALIGNANCY
from ..diffusion.sampling_settings import DEFAULT_SCHEDULER, DEFAULT_STEPS, FST_GUIDANCE
from ..errors import ParameterError
from ..fst import fst_group
from ..manifest import read_manifest, write_manifest
from ..mix import Preset, image_cells, normalised

if TYPE_CHECKING:  # the backends import torch and diffusers; a set is planned and checked without them
    from .backends import GenerationBackend

SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class PlannedImage:
    index: int
    fst: int
    diagnosis: str
    seed: int

    @property
    def image_id(self) -> str:
        return f"gen-{self.index:06d}"


def plan_images(n: int, fst_mix: dict[int, float], diagnosis_mix: dict[str, float], seed: int) -> list[PlannedImage]:
    """Exact counts per cell (largest remainder on both margins), in a seeded random order."""
    if n < 1:
        raise ParameterError(f"{{n}} must be at least 1, not {n}", "n")
    cells = image_cells(n, Preset("requested", normalised(fst_mix), normalised(diagnosis_mix)))
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x6E4])).permutation(len(cells))
    return [PlannedImage(k, int(cells[i][0]), cells[i][1], seed * SEED_STRIDE + k) for k, i in enumerate(order)]


def plan_per_cell(per_cell: int, fsts: list[int], diagnoses: list[str], seed: int) -> list[PlannedImage]:
    """``per_cell`` images of every (skin type, diagnosis) pair."""
    return plan_images(per_cell * len(fsts) * len(diagnoses), dict.fromkeys(fsts, 1.0), dict.fromkeys(diagnoses, 1.0), seed)


def provenance_row(item: PlannedImage, backend: GenerationBackend, steps: int, guidance: float, scheduler: str) -> dict:
    """The manifest row of a generated image: its labels and everything needed to make it again."""
    return {
        "image_id": item.image_id,
        "image_path": f"images/{item.image_id}.png",
        "source": "synthetic",
        "dataset": f"fairskin-generate:{backend.model_id}",
        "diagnosis": item.diagnosis,
        "malignant": MALIGNANCY.get(item.diagnosis),
        "fst": item.fst,
        "fst_group": fst_group(item.fst),
        "fst_source": "requested",
        "split": "",
        "model_id": backend.model_id,
        "model_hash": backend.model_hash,
        "seed": item.seed,
        "prompt": backend.prompt(item.fst, item.diagnosis),
        "scheduler": scheduler,
        "steps": steps,
        "guidance": guidance,
    }


def finished_rows(out: Path) -> dict[str, dict]:
    """Rows of every manifest (or part) already in ``out`` whose image file is there."""
    rows = {}
    for path in sorted(out.glob("manifest*.csv")):
        manifest = read_manifest(path, check_files="none")
        for row in manifest.table.to_dict("records"):
            if (out / row["image_path"]).is_file():
                rows[row["image_id"]] = row
    return rows


def generate_set(
    backend: GenerationBackend,
    plan: list[PlannedImage],
    out: str | Path,
    *,
    steps: int = DEFAULT_STEPS,
    guidance: float = FST_GUIDANCE,
    scheduler: str = DEFAULT_SCHEDULER,
    batch_size: int = 16,
    size: int | None = None,
    process_index: int = 0,
    num_processes: int = 1,
    progress: Callable[[int, int, float], None] | None = None,
) -> Path:
    """Generate this process's share of ``plan`` into ``out`` (``size`` × ``size`` images, default the model's own);
    returns the manifest it keeps."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    manifest_path = out / ("manifest.csv" if num_processes == 1 else f"manifest.part-{process_index}.csv")
    finished = finished_rows(out)
    mine = plan[process_index::num_processes]
    rows = [finished[item.image_id] for item in mine if item.image_id in finished]
    todo = [item for item in mine if item.image_id not in finished]
    done, started = len(rows), time.perf_counter()
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        images = backend.generate([i.fst for i in batch], [i.diagnosis for i in batch], [i.seed for i in batch],
                                  steps=steps, guidance=guidance, scheduler=scheduler, size=size)
        for item, pixels in zip(batch, images, strict=True):
            with atomic_file(out / "images" / f"{item.image_id}.png", "wb") as handle:
                Image.fromarray(pixels).save(handle, format="PNG")
            rows.append(provenance_row(item, backend, steps, guidance, scheduler))
        write_manifest(pd.DataFrame(sorted(rows, key=lambda row: row["image_id"])), manifest_path)  # in plan order, resumed or not
        done += len(batch)
        if progress:
            progress(done, len(mine), (done - len(mine) + len(todo)) / max(time.perf_counter() - started, 1e-9))
    if not todo:
        columns = list(provenance_row(plan[0], backend, steps, guidance, scheduler))
        write_manifest(pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns), manifest_path)
    return manifest_path


def merge_parts(out: str | Path) -> Path:
    """Merge ``manifest.part-K.csv`` files (several processes) into one ``manifest.csv``, in plan order."""
    out = Path(out)
    parts = sorted(out.glob("manifest.part-*.csv"))
    tables = [read_manifest(p, check_files="none").table for p in parts]
    if (out / "manifest.csv").exists():
        tables.append(read_manifest(out / "manifest.csv", check_files="none").table)
    table = pd.concat(tables).drop_duplicates("image_id").sort_values("image_id").reset_index(drop=True)
    path = write_manifest(table, out / "manifest.csv")
    for part in parts:
        part.unlink()
    return path


def add_to_set(folder: str | Path, images: list[np.ndarray], rows: list[dict]) -> Path:
    """Append generated images (and their provenance rows) to the synthetic set in ``folder``.

    New images get the next free ``gen-NNNNNN`` ids; the manifest is rewritten atomically, so the
    set is either as before or has all the new images.
    """
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.csv"
    existing = read_manifest(manifest_path, check_files="none").table if manifest_path.exists() else pd.DataFrame()
    taken = {int(i.removeprefix("gen-")) for i in existing.get("image_id", []) if str(i).startswith("gen-") and i[4:].isdigit()}
    next_index = max(taken, default=-1) + 1
    added = []
    for offset, (pixels, row) in enumerate(zip(images, rows, strict=True)):
        image_id = f"gen-{next_index + offset:06d}"
        with atomic_file(folder / "images" / f"{image_id}.png", "wb") as handle:
            Image.fromarray(pixels).save(handle, format="PNG")
        added.append({**row, "image_id": image_id, "image_path": f"images/{image_id}.png"})
    return write_manifest(pd.concat([existing, pd.DataFrame(added)], ignore_index=True), manifest_path)
