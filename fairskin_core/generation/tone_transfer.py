"""Skin-tone transfer: a real lesion image redrawn on another Fitzpatrick skin type, the lesion kept.

Img2img with the Stable Diffusion backend's own modules (`StableDiffusionImg2ImgPipeline` over
`backend.pipeline.components`, so its LoRAs and learned tokens apply): the source image is
encoded, noised to ``strength`` of the way (0.6: the last 60 % of the schedule) and denoised
with the prompt of the target skin type and the source's diagnosis. Lower strength keeps more of
the source (the lesion's shape and dermoscopic structures), higher strength changes more (the
skin colour). The model works at its own size: each image is resized to about the model's
pixel count (keeping its aspect ratio, sides rounded to what the UNet can halve), and the
result back to the source's size.

`tone_transfer_set` does a manifest's images into a synthetic set, resumable like
`generate_set`, each row recording its source image (`source_image`, docs/manifest.md).
`compare_tone` measures a source and its result (ITA, estimated type, lesion mask) for
showing them side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..analysis.pipeline import analyse_image
from ..atomic import atomic_file
from ..fst import FST_TYPES
from ..hashing import file_sha256
from ..images import read_rgb
from ..manifest import read_manifest, write_manifest
from .backends import StableDiffusionBackend, to_uint8
from .batch import SEED_STRIDE, PlannedImage, finished_rows, provenance_row
from .schedulers import make_scheduler

BATCH = 8  # images of one size denoised together by `tone_transfer_set`
KEPT_COLUMNS = ("split", "lesion_id", "patient_id")  # so a transfer stays on its source's side of any split
RESUME_KEYS = ("source_image", "fst", "seed", "steps", "guidance", "scheduler", "model_hash")  # what a resumed row must share


def check_settings(fst: int, strength: float, steps: int = 25) -> None:
    """Refuse a target skin type or strength that cannot work, before anything is loaded or written."""
    if fst not in FST_TYPES:
        raise ValueError(f"--fst {fst}: a Fitzpatrick skin type is 1-6 (I-VI)")
    if not (isinstance(strength, (int, float)) and 0 < strength <= 1):
        raise ValueError(f"--strength {strength}: give a number above 0 and at most 1 (0.6 keeps the lesion, 1 redraws everything)")
    if int(steps * strength) < 1:
        raise ValueError(f"--strength {strength} of {steps} steps runs no denoising step: raise --strength or --steps")


def working_size(height: int, width: int, backend: StableDiffusionBackend) -> tuple[int, int]:
    """The (height, width) the model denoises an image of this size at: its pixel count, the image's aspect ratio."""
    unet = backend.pipeline.unet
    multiple = backend.pipeline.vae_scale_factor * 2 ** (len(unet.config.block_out_channels) - 1)
    scale = backend.image_size / math.sqrt(height * width)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (height, width))


def tone_transfer(backend: StableDiffusionBackend, images: np.ndarray, fst: list[int], diagnosis: list[str], seeds: list[int], *,
                  strength: float = 0.6, steps: int = 25, guidance: float = 7.5, scheduler: str = "dpm-solver++") -> np.ndarray:
    """``images`` (N × H × W × 3 uint8) redrawn on skin types ``fst``, image i from seed i alone; N × H × W × 3 uint8."""
    from diffusers import StableDiffusionImg2ImgPipeline

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be an N × H × W × 3 uint8 array, not {images.dtype} of shape {images.shape}")
    if not len(images) == len(fst) == len(diagnosis) == len(seeds):
        raise ValueError(f"{len(images)} images need as many skin types, diagnoses and seeds ({len(fst)}, {len(diagnosis)}, {len(seeds)})")
    for target in fst:
        check_settings(target, strength, steps)
    height, width = images.shape[1:3]
    size = working_size(height, width, backend)
    pipeline = StableDiffusionImg2ImgPipeline(**{**backend.pipeline.components, "requires_safety_checker": False})
    pipeline.set_progress_bar_config(disable=True)
    pipeline.scheduler = make_scheduler(scheduler, backend.training_scheduler)
    result = pipeline([backend.prompt(f, d) for f, d in zip(fst, diagnosis, strict=True)],
                      image=[Image.fromarray(image).resize(size[::-1], Image.Resampling.LANCZOS) for image in images],
                      strength=strength, num_inference_steps=steps, guidance_scale=guidance, output_type="np",
                      generator=[torch.Generator("cpu").manual_seed(int(s)) for s in seeds]).images
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)) for image in to_uint8(result)])


def source_image(manifest: Path, image_id: str, file: Path, strength: float) -> str:
    """The `source_image` provenance of a transfer (docs/manifest.md): where it came from, which bytes, how strongly changed."""
    return f"strength={strength:g};sha256={file_sha256(file)[:16]};image_id={image_id};manifest={manifest.resolve()}"


def parse_source_image(text: str) -> dict[str, str]:
    """The fields of a `source_image` value (as `source_image` writes them: the manifest's path comes last, whole)."""
    return dict(part.split("=", 1) for part in text.split(";", 3))


def tone_transfer_set(backend: StableDiffusionBackend, manifest_path: str | Path, out: str | Path, fst: int, *, strength: float = 0.6,
                      steps: int = 25, guidance: float = 7.5, scheduler: str = "dpm-solver++", seed: int = 0, limit: int | None = None,
                      image_ids: Sequence[str] | None = None, allowed_roots: list[Path] | None = None,
                      progress: Callable[[int, int, float], None] | None = None) -> Path:
    """The manifest's images (``image_ids`` of them, else its first ``limit``) redrawn on skin type ``fst`` into ``out``;
    returns ``out``'s manifest. ``allowed_roots`` (the web app): where the manifest and its images may be read.

    Every source image is decoded before anything is written, so an unreadable one stops the run
    with nothing half-done. Image k uses seed ``seed`` × 1,000,003 + k. Images and the manifest
    are written atomically after each batch; a rerun with the same arguments skips what is there
    (and one with other settings is refused).
    """
    check_settings(fst, strength, steps)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit}: give at least 1 (or leave it out for every image)")
    manifest_path, out, guidance = Path(manifest_path), Path(out), float(guidance)
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
    shapes = [read_rgb(file).shape for file in files]  # an unreadable image: ImageFileError naming the file, nothing written
    planned = [{**provenance_row(PlannedImage(k, fst, row["diagnosis"], seed * SEED_STRIDE + k), backend, steps, guidance, scheduler),
                "dataset": f"fairskin-tone-transfer:{backend.model_id}", "malignant": row["malignant"],
                **{column: row[column] for column in KEPT_COLUMNS},
                "source_image": source_image(manifest_path, row["image_id"], file, strength)}
               for k, (row, file) in enumerate(zip(rows, files, strict=True))]
    finished = finished_rows(out)
    for row in planned:
        done = finished.get(row["image_id"])
        if done and any(str(done[key]) != str(row[key]) for key in RESUME_KEYS):
            raise ValueError(f"{out} already holds {row['image_id']}, made from another image or with other settings: "
                             "choose a new --out, or rerun with the arguments of the first run to resume it")
    kept = dict(finished)  # by image id: this plan's rows already made, and any a longer --limit made before
    todo = [k for k, row in enumerate(planned) if row["image_id"] not in finished]
    made, started = 0, time.perf_counter()
    for batch in _same_size_batches(todo, shapes):
        images = tone_transfer(backend, np.stack([read_rgb(files[k]) for k in batch]), [fst] * len(batch),
                               [rows[k]["diagnosis"] for k in batch], [planned[k]["seed"] for k in batch],
                               strength=strength, steps=steps, guidance=guidance, scheduler=scheduler)
        for k, image in zip(batch, images, strict=True):
            with atomic_file(out / planned[k]["image_path"], "wb") as handle:
                Image.fromarray(image).save(handle, format="PNG")
            kept[planned[k]["image_id"]] = planned[k]
        write_manifest(pd.DataFrame([kept[image_id] for image_id in sorted(kept)]), out / "manifest.csv")
        made += len(batch)
        if progress:
            progress(len(planned) - len(todo) + made, len(planned), made / max(time.perf_counter() - started, 1e-9))
    return out / "manifest.csv"


def _same_size_batches(order: list[int], shapes: list[tuple]) -> list[list[int]]:
    """``order`` cut into runs of up to `BATCH` consecutive images of one size (one img2img call each)."""
    batches: list[list[int]] = []
    for k in order:
        if batches and len(batches[-1]) < BATCH and shapes[batches[-1][0]] == shapes[k]:
            batches[-1].append(k)
        else:
            batches.append([k])
    return batches


def _measured(image: np.ndarray) -> dict:
    analysis = analyse_image(image, keep_masks=True)
    mask = analysis.lesion_mask
    if mask is not None:  # the analysis runs on a smaller copy: the mask at the image's own size
        mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.Resampling.NEAREST))
    return {"ita": analysis.ita, "fst": analysis.fst, "status": analysis.status, "mask": mask}


def compare_tone(source: np.ndarray, result: np.ndarray) -> dict:
    """ITA, ITA-estimated skin type, analysis status and lesion mask of a source image and of its tone transfer,
    and the overlap (IoU) of the two lesion masks: did the skin change and the lesion stay?"""
    measured = {"source": _measured(source), "result": _measured(result)}
    a, b = measured["source"]["mask"], measured["result"]["mask"]
    union = int((a | b).sum()) if a is not None and b is not None and a.shape == b.shape else 0
    measured["lesion_iou"] = float((a & b).sum() / union) if union else None
    return measured
