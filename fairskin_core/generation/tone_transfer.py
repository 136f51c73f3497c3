"""Skin-tone transfer: a manifest's real lesion images redrawn on other Fitzpatrick skin types, the lesion kept.

Two methods, one runner (`tone_transfer_set`):

- `melanin_transfer.MelaninToneTransfer`, the default: physically based, offline, on the CPU;
- `sd_tone_transfer.StableDiffusionToneTransfer`: img2img with a Stable Diffusion model.

A method has a ``model_id`` and ``model_hash``, ``row_settings(fst, diagnosis)`` (its provenance
columns) and ``transfer(images, fst, diagnosis, seeds)``: per image, the result and its
parameters, or the reason it cannot be done (a string).

Every row records its source image, the method's parameters (`source_image`, docs/manifest.md)
and the skin type the learned estimator measures on the result (`measured_fst`,
`measured_fst_confidence`, `measured_fst_status`). Images that cannot be transferred are listed
with the reason in ``skipped.csv``. `compare_tone` measures a source and its result for showing
them side by side. The estimator (torch) is imported where images are measured: the web app
reads a transfer's records without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..analysis.pipeline import analyse_image
from ..atomic import atomic_file
from ..errors import ParameterError
from ..fst import FST_TYPES, fst_group
from ..hashing import file_sha256
from ..images import read_rgb
from ..manifest import read_manifest, write_manifest
from .planned_set import SEED_STRIDE, finished_rows

BATCH = 8  # source images transferred, measured and saved together
KEPT_COLUMNS = ("split", "lesion_id", "patient_id")  # so a transfer stays on its source's side of any split
RESUME_KEYS = ("fst", "seed", "model_id", "model_hash", "steps", "guidance", "scheduler")  # what a resumed row must share
SKIPPED_FILE = "skipped.csv"


def check_target_types(fsts: Sequence[int]) -> list[int]:
    """The requested target types, each once, or an error naming the one that is not a type."""
    if not fsts:
        raise ParameterError("{fst}: give at least one target skin type, 1-6", "fst")
    for fst in fsts:
        if fst not in FST_TYPES:
            raise ParameterError(f"{{fst}} {fst}: a Fitzpatrick skin type is 1-6 (I-VI)", "fst")
    return list(dict.fromkeys(int(fst) for fst in fsts))


def source_image(manifest: Path, image_id: str, sha256: str, parameters: dict) -> str:
    """The `source_image` provenance of a transfer (docs/manifest.md): how it was made, from which bytes of which image."""
    settings = "".join(f"{key}={value};" for key, value in parameters.items())
    return f"{settings}sha256={sha256[:16]};image_id={image_id};manifest={manifest.resolve()}"


def parse_source_image(text: str) -> dict[str, str]:
    """The fields of a `source_image` value: everything after ``;manifest=`` is the manifest's path, whole."""
    head, _, manifest = text.partition(";manifest=")
    return {**dict(part.split("=", 1) for part in head.split(";")), "manifest": manifest}


def _check_writable(out: Path) -> None:
    try:
        (out / "images").mkdir(parents=True, exist_ok=True)
        with atomic_file(out / ".write-test", "w") as handle:
            handle.write("")
        (out / ".write-test").unlink()
    except OSError as exc:
        raise PermissionError(f"{out}: cannot write there ({exc.strerror or exc}); choose another output folder") from None


def _plan(method, manifest_path: Path, rows: list[dict], hashes: list[str], fsts: list[int], seed: int) -> list[dict]:
    planned = []
    for k, (row, sha256) in enumerate(zip(rows, hashes, strict=True)):
        for j, fst in enumerate(fsts):
            index = k * len(fsts) + j
            image_id = f"tt-{k:06d}-fst{fst}"
            planned.append({
                "image_id": image_id, "image_path": f"images/{image_id}.png", "source": "synthetic",
                "dataset": f"fairskin-tone-transfer:{method.model_id}", "diagnosis": row["diagnosis"], "malignant": row["malignant"],
                "fst": fst, "fst_group": fst_group(fst), "fst_source": "requested", **{column: row[column] for column in KEPT_COLUMNS},
                "model_id": method.model_id, "model_hash": method.model_hash, "seed": seed * SEED_STRIDE + index,
                **method.row_settings(fst, row["diagnosis"]), "source_image": source_image(manifest_path, row["image_id"], sha256, {}),
                "_source": k})
    return planned


def _same_plan(done: dict, row: dict) -> bool:
    was, now = parse_source_image(str(done["source_image"])), parse_source_image(row["source_image"])
    return (was.get("image_id"), was.get("sha256")) == (now["image_id"], now["sha256"]) and all(
        str(done.get(key)) == str(row[key]) for key in RESUME_KEYS if key in row)


def tone_transfer_set(method, manifest_path: str | Path, out: str | Path, fsts: Sequence[int], *, seed: int = 0,
                      limit: int | None = None, image_ids: Sequence[str] | None = None, allowed_roots: list[Path] | None = None,
                      progress: Callable[[int, int, float], None] | None = None) -> Path:
    """The manifest's images (``image_ids`` of them, else its first ``limit``), each redrawn on every type of ``fsts``
    by ``method`` into ``out``; returns ``out``'s manifest. ``allowed_roots`` (the web app): where the manifest and its
    images may be read.

    Every source image is decoded and ``out`` is checked writable before anything is written, so a
    bad input stops the run with nothing half-done. Image k × target j uses seed ``seed`` ×
    1,000,003 + k × len(fsts) + j. Images, the manifest and ``skipped.csv`` are written atomically
    after each batch; a rerun with the same arguments skips what is there (one with other settings
    is refused).
    """
    from ..skin_type.estimator import estimate_images

    fsts = check_target_types(fsts)
    if limit is not None and limit < 1:
        raise ParameterError(f"{{limit}} {limit}: give at least 1 (or leave it out for every image)", "limit")
    manifest_path, out = Path(manifest_path), Path(out)
    manifest = read_manifest(manifest_path, check_files="exists", allowed_roots=allowed_roots)
    table = manifest.table
    if image_ids is not None:
        missing = [image_id for image_id in image_ids if image_id not in set(table["image_id"])]
        if missing:
            raise ValueError(f"{manifest_path} has no image {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}: "
                             "give image ids of its image_id column")
        table = table.set_index("image_id", drop=False).loc[list(dict.fromkeys(image_ids))]
    rows = table.iloc[:limit].to_dict("records")
    if not rows:
        raise ValueError(f"{manifest_path}: the manifest lists no images")
    files = [manifest.image_file(row["image_path"], row["image_root"]) for row in rows]
    for file in files:
        read_rgb(file)  # an unreadable image: ImageFileError naming the file, nothing written
    _check_writable(out)
    planned = _plan(method, manifest_path, rows, [file_sha256(file) for file in files], fsts, seed)
    finished = finished_rows(out)
    for row in planned:
        done = finished.get(row["image_id"])
        if done and not _same_plan(done, row):
            raise ParameterError(f"{out} already holds {row['image_id']}, made from another image or with other settings: "
                                 "choose a new {out}, or rerun with the arguments of the first run to resume it", "out")
    kept = dict(finished)  # by image id: this plan's rows already made, and any a longer ``limit`` made before
    skipped: dict[str, dict] = {}
    todo = [row for row in planned if row["image_id"] not in finished]
    made, started = 0, time.perf_counter()
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        sources = {row["_source"]: read_rgb(files[row["_source"]]) for row in batch}
        results = method.transfer([sources[row["_source"]] for row in batch], [row["fst"] for row in batch],
                                  [row["diagnosis"] for row in batch], [row["seed"] for row in batch])
        done_rows = [(row, result) for row, result in zip(batch, results, strict=True) if not isinstance(result, str)]
        measured = estimate_images([image for _, (image, _) in done_rows]) if done_rows else []
        for (row, (image, parameters)), record in zip(done_rows, measured, strict=True):
            with atomic_file(out / row["image_path"], "wb") as handle:
                Image.fromarray(image).save(handle, format="PNG")
            source = rows[row["_source"]]
            kept[row["image_id"]] = {key: value for key, value in row.items() if key != "_source"} | {
                "source_image": source_image(manifest_path, source["image_id"], file_sha256(files[row["_source"]]), parameters),
                "measured_fst": record["fst_estimate"], "measured_fst_confidence": record["fst_confidence"],
                "measured_fst_status": record["status"]}
        for row, result in zip(batch, results, strict=True):
            if isinstance(result, str):
                skipped[row["image_id"]] = {"image_id": row["image_id"], "source_image_id": rows[row["_source"]]["image_id"],
                                            "fst": row["fst"], "reason": result}
        if kept:
            table = pd.DataFrame([kept[image_id] for image_id in sorted(kept)])
            if "measured_fst" in table:
                table["measured_fst"] = pd.to_numeric(table["measured_fst"], errors="coerce").astype("Int64")  # resumed rows: text
            write_manifest(table, out / "manifest.csv")
        if skipped:
            with atomic_file(out / SKIPPED_FILE, "w") as handle:
                pd.DataFrame(list(skipped.values())).to_csv(handle, index=False)
        made += len(batch)
        if progress:
            progress(len(planned) - len(todo) + made, len(planned), made / max(time.perf_counter() - started, 1e-9))
    if not kept:
        first = next(iter(skipped.values()))
        raise ValueError(f"no image could be transferred: {len(skipped)} skipped (listed in {out / SKIPPED_FILE}); "
                         f"first, {first['source_image_id']}: {first['reason']}")
    return out / "manifest.csv"


def skipped_images(out: str | Path) -> pd.DataFrame:
    """The images a tone transfer into ``out`` skipped, with the reason (empty if none)."""
    path = Path(out) / SKIPPED_FILE
    return pd.read_csv(path, dtype=str) if path.is_file() else pd.DataFrame(columns=["image_id", "source_image_id", "fst", "reason"])


def _measured(image: np.ndarray) -> dict:
    from ..skin_type.estimator import estimate_images

    analysis = analyse_image(image, keep_masks=True)
    mask = analysis.lesion_mask
    if mask is not None:  # the analysis runs on a smaller copy: the mask at the image's own size
        mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.Resampling.NEAREST))
    learned = estimate_images([image])[0]
    return {"ita": analysis.ita, "fst": analysis.fst, "status": analysis.status, "mask": mask,
            "learned_fst": learned["fst_estimate"], "learned_confidence": learned["fst_confidence"], "learned_status": learned["status"]}


def compare_tone(source: np.ndarray, result: np.ndarray) -> dict:
    """ITA, skin type (by ITA and by the learned estimator), analysis status and lesion mask of a source image and of
    its tone transfer, and the overlap (IoU) of the two lesion masks: did the skin change and the lesion stay?"""
    measured = {"source": _measured(source), "result": _measured(result)}
    a, b = measured["source"]["mask"], measured["result"]["mask"]
    union = int((a | b).sum()) if a is not None and b is not None and a.shape == b.shape else 0
    measured["lesion_iou"] = float((a & b).sum() / union) if union else None
    return measured
