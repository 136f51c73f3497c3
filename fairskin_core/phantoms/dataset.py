"""Phantom datasets: presets that mimic real datasets' skin-type mix, written with a manifest.

`write_phantom_dataset` writes ``images/``, ``masks/``, ``manifest.csv`` and
``phantoms.json`` (the parameters) into a new folder, all or nothing. The FST × diagnosis
counts are exact (`fairskin_core.mix.cell_counts`), each image is rendered from
its own seed, and the same arguments always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_dir, atomic_file
from ..diagnoses import MALIGNANCY
from ..errors import ParameterError
from ..manifest import records_to_table, write_manifest
from ..mix import Preset, image_cells, normalised
from .lesion import PHANTOM_DIAGNOSES
from .render import render_phantom

# HAM10000's diagnosis frequencies (nv 66.9%, mel 11.1%, bkl 11.0%, bcc 5.1%, vasc 1.4%, df 1.1%;
# akiec has no phantom) and an ISIC-like skin-type mix with 4% of types V–VI.
PRESETS = {
    "ham10000": Preset(
        "like HAM10000/ISIC: mostly light skin (4% FST V-VI), mostly nevi",
        {1: 0.20, 2: 0.42, 3: 0.24, 4: 0.10, 5: 0.03, 6: 0.01},
        normalised({
            "nevus": 66.9, "melanoma": 11.1, "seborrheic_keratosis": 11.0, "basal_cell_carcinoma": 5.1, "vascular_lesion": 1.4,
            "dermatofibroma": 1.1,
        }),
    ),
    "ddi": Preset(
        "like the DDI test set: 34% FST V-VI, more malignancies",
        {1: 0.15, 2: 0.15, 3: 0.18, 4: 0.18, 5: 0.18, 6: 0.16},
        {
            "nevus": 0.30, "seborrheic_keratosis": 0.20, "melanoma": 0.15, "basal_cell_carcinoma": 0.15, "dermatofibroma": 0.10,
            "vascular_lesion": 0.10,
        },
    ),
    "balanced": Preset(
        "every FST x diagnosis cell equally often",
        {fst: 1 / 6 for fst in range(1, 7)},
        {dx: 1 / len(PHANTOM_DIAGNOSES) for dx in PHANTOM_DIAGNOSES},
    ),
}

RENDERER_ID = "fairskin-phantom-renderer"
# Images, taken cell by cell (FST × diagnosis), cycle through this split pattern (80/10/10):
# every split gets each cell's share, and small cells still reach val and test.
SPLIT_CYCLE = ("train",) * 8 + ("val", "test")


def renderer_hash() -> str:
    """A hash of the renderer's source: phantoms from different renderer code never share it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def image_seed(dataset_seed: int, index: int) -> int:
    """Each image's own seed, from the dataset seed and its index."""
    return int(np.random.SeedSequence([dataset_seed, index]).generate_state(1)[0])


def plan_dataset(n: int, preset: str, seed: int) -> list[dict]:
    """Which image gets which FST, diagnosis, split and seed — before anything is rendered."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if n < 1:
        raise ParameterError(f"{{n}} must be at least 1, not {n}", "n")
    cells = image_cells(n, PRESETS[preset])
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(len(cells))
    # ``cells`` lists images cell by cell: an image's position in it decides its split, and the
    # seeded permutation decides its index (and so its seed and id).
    return [
        {
            "image_id": f"phantom-{preset}-s{seed}-{index:06d}",
            "fst": cells[position][0],
            "diagnosis": cells[position][1],
            "split": SPLIT_CYCLE[position % len(SPLIT_CYCLE)],
            "seed": image_seed(seed, index),
        }
        for index, position in enumerate(order)
    ]


def _render_and_save(task: tuple[dict, int, str]) -> dict:
    item, size, folder = task
    phantom = render_phantom(item["seed"], item["fst"], item["diagnosis"], size)
    image_path = f"images/{item['image_id']}.png"
    mask_path = f"masks/{item['image_id']}_mask.png"
    Image.fromarray(phantom.image).save(Path(folder) / image_path, format="PNG", compress_level=6)
    Image.fromarray((phantom.lesion_mask * 255).astype(np.uint8)).save(Path(folder) / mask_path, format="PNG", compress_level=6)
    return {
        "image_path": image_path,
        "mask_path": mask_path,
        "pixel_size_mm": phantom.pixel_size_mm,
        **{f"gt_{k}": v for k, v in phantom.truth.items()},
    }


def write_phantom_dataset(
    out: str | Path,
    *,
    n: int,
    preset: str = "balanced",
    size: int = 128,
    seed: int = 0,
    workers: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render ``n`` phantoms into the new folder ``out``; return the manifest's path."""
    plan = plan_dataset(n, preset, seed)
    if not 32 <= size <= 2048:
        raise ParameterError(f"{{size}} must be between 32 and 2048 px, not {size}", "size")
    workers = workers or min(os.cpu_count() or 1, 8)
    model_hash = renderer_hash()
    with atomic_dir(out, overwrite=overwrite) as folder:
        (folder / "images").mkdir()
        (folder / "masks").mkdir()
        tasks = [(item, size, str(folder)) for item in plan]
        if workers > 1 and n > 8:
            with ProcessPoolExecutor(workers) as pool:
                results = []
                for result in pool.map(_render_and_save, tasks, chunksize=8):
                    results.append(result)
                    if progress:
                        progress(len(results), n)
        else:
            results = []
            for task in tasks:
                results.append(_render_and_save(task))
                if progress:
                    progress(len(results), n)
        records = [
            {
                "image_id": item["image_id"],
                "image_path": result["image_path"],
                "diagnosis": item["diagnosis"],
                "malignant": MALIGNANCY.get(item["diagnosis"], False),
                "fst": item["fst"],
                "fst_source": "annotated",
                "source": "phantom",
                "dataset": f"phantom-{preset}",
                "split": item["split"],
                "model_id": RENDERER_ID,
                "model_hash": model_hash,
                "seed": item["seed"],
                "mask_path": result["mask_path"],
                "pixel_size_mm": result["pixel_size_mm"],
                **{k: v for k, v in result.items() if k.startswith("gt_")},
            }
            for item, result in zip(plan, results, strict=True)
        ]
        table = records_to_table(records, folder, check_files="exists", source="phantom renderer")
        write_manifest(table, folder / "manifest.csv")
        parameters = {"n": n, "preset": preset, "size": size, "seed": seed, "renderer": RENDERER_ID, "renderer_hash": model_hash}
        with atomic_file(folder / "phantoms.json", "w") as handle:
            json.dump(parameters, handle, indent=2, sort_keys=True)
            handle.write("\n")
    return Path(out) / "manifest.csv"
