"""Analysing images and manifests: skin tone (ITA → FST with confidence) and ABCD features.

Every image gets a status, so one bad image never stops a batch:
``ok``; ``unreadable`` (not an image, damaged, a decompression bomb); ``too small`` (under
32 px); ``not a colour image`` (grey-scale); ``too little skin`` (the lesion or artefacts
cover nearly everything); ``not skin-coloured`` (the skin's median b* is not positive).
Only ``ok`` rows carry an ITA and an FST estimate — never a guess.

Images are analysed at 192 px on their longer side (ITA is a median colour and ABCD a shape:
more pixels add time, not accuracy); diameters are reported at the original scale.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from skimage.color import rgb2lab, xyz2lab
from threadpoolctl import threadpool_limits

from ..hashing import file_sha256
from ..images import ImageFileError, read_mask, read_rgb
from ..manifest import Manifest
from ..measurement_cache import MeasurementCache, content_key
from .abcd import AbcdFeatures, abcd_features
from .fst_mapping import KINYANJUI, FstMapping
from .illumination import lighting_gain
from .ita import MIN_SKIN_B, chardon_category, measure_ita
from .segmentation import segment_lesion
from .skin import SkinSelection, select_skin

ANALYSIS_SIDE = 192
MIN_SIDE = 32
MIN_SKIN_FRACTION = 0.05
FULL_CONFIDENCE_SKIN = 0.25  # with less skin than this share of the image, confidence is scaled down
_LINEAR_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])


@dataclass
class ImageAnalysis:
    """What was measured on one image; ``status`` says whether the skin-tone figures exist."""

    status: str
    message: str = ""
    ita: float | None = None
    ita_spread: float | None = None
    skin_L: float | None = None
    skin_b: float | None = None
    fst: int | None = None
    fst_confidence: float | None = None
    skin_fraction: float | None = None
    lesion: str = ""  # where the lesion mask came from: given, segmented, none found
    abcd: AbcdFeatures | None = None
    skin_selection: SkinSelection | None = field(default=None, repr=False)
    lesion_mask: np.ndarray | None = field(default=None, repr=False)

    def row(self) -> dict:
        """A flat record for a CSV."""
        record = {
            "status": self.status,
            "message": self.message,
            "ita": self.ita,
            "ita_spread": self.ita_spread,
            "skin_L": self.skin_L,
            "skin_b": self.skin_b,
            "chardon_category": chardon_category(self.ita) if self.ita is not None else "",
            "fst_estimate": self.fst,
            "fst_confidence": self.fst_confidence,
            "skin_fraction": self.skin_fraction,
            "lesion_mask": self.lesion,
        }
        abcd = self.abcd
        record.update(
            asymmetry=abcd.asymmetry if abcd else None,
            border_compactness=abcd.border_compactness if abcd else None,
            border_fractal_dimension=abcd.border_fractal_dimension if abcd else None,
            diameter_px=abcd.diameter_px if abcd else None,
            diameter_mm=abcd.diameter_mm if abcd else None,
            diameter_relative=abcd.diameter_relative if abcd else None,
            colours=";".join(abcd.colours) if abcd else "",
            n_colours=abcd.n_colours if abcd else None,
            colour_spread=abcd.colour_spread if abcd else None,
        )
        return record


def _downscaled(rgb: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, float]:
    height, width = rgb.shape[:2]
    scale = min(1.0, ANALYSIS_SIDE / max(height, width))
    if scale == 1.0:
        return rgb, mask, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
    if mask is not None:
        mask = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))
    return small, mask, width / size[0]


def _relit_skin_lab(rgb: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """CIELAB (N×3) of the skin pixels with the lighting fall-off removed (see illumination.py)."""
    encoded = rgb / 255.0
    linear = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)
    relit = linear[skin] * lighting_gain(linear, skin)[skin][:, None]
    return xyz2lab((relit @ _LINEAR_RGB_TO_XYZ.T)[None], illuminant="D65")[0]


def analyse_image(
    rgb: np.ndarray,
    lesion_mask: np.ndarray | None = None,
    *,
    pixel_size_mm: float | None = None,
    mapping: FstMapping = KINYANJUI,
    keep_masks: bool = False,
) -> ImageAnalysis:
    """Skin tone and ABCD features of one sRGB image (H×W×3 uint8), with its lesion mask if known."""
    if min(rgb.shape[:2]) < MIN_SIDE:
        return ImageAnalysis("too small", f"{rgb.shape[1]}x{rgb.shape[0]} px; at least {MIN_SIDE} px on each side are needed")
    if lesion_mask is not None and lesion_mask.shape != rgb.shape[:2]:
        return ImageAnalysis(
            "unreadable", f"the lesion mask is {lesion_mask.shape[1]}x{lesion_mask.shape[0]}, the image {rgb.shape[1]}x{rgb.shape[0]}"
        )
    small, mask, scale = _downscaled(rgb, lesion_mask)
    lab = rgb2lab(small)
    if np.percentile(np.hypot(lab[..., 1], lab[..., 2]), 95) < 3:
        return ImageAnalysis("not a colour image", "no pixel has colour (grey-scale?): skin tone cannot be measured")
    source = "given"
    if mask is None:
        mask, source = segment_lesion(small), "segmented"
    if not mask.any():
        source = "none found" if source == "segmented" else "given (empty)"
    skin = select_skin(lab, mask)
    result = ImageAnalysis("ok", lesion=source, skin_fraction=skin.fraction)
    if keep_masks:
        result.skin_selection, result.lesion_mask = skin, mask
    if mask.any():
        # Colours are judged against the skin; with no healthy skin left, against all non-lesion pixels.
        reference = skin.mask if skin.mask.any() else ~mask
        skin_lab = np.median(lab[reference], axis=0) if reference.any() else np.median(lab.reshape(-1, 3), axis=0)
        millimetres = pixel_size_mm * scale if pixel_size_mm else None
        result.abcd = _rescaled(abcd_features(mask, lab, skin_lab, millimetres), scale)
    if skin.fraction < MIN_SKIN_FRACTION:
        result.status, result.message = "too little skin", (
            f"only {skin.fraction:.1%} of the image is healthy skin (at least {MIN_SKIN_FRACTION:.0%} needed)")
        return result
    skin_lab = _relit_skin_lab(small, skin.mask)
    measurement = measure_ita(skin_lab)
    if measurement is None:
        result.skin_L, result.skin_b = (float(v) for v in np.median(skin_lab[:, [0, 2]], axis=0))
        result.status, result.message = "not skin-coloured", (
            f"the skin's median b* is {result.skin_b:.1f} (needs more than {MIN_SKIN_B:g}): "
            "a grey or bluish colour cast, not a skin colour; no ITA")
        return result
    result.ita, result.ita_spread = measurement.ita, measurement.spread
    result.skin_L, result.skin_b = measurement.L, measurement.b
    result.fst = mapping.fst(measurement.ita)
    result.fst_confidence = mapping.confidence(measurement.ita, measurement.spread) * min(1.0, skin.fraction / FULL_CONFIDENCE_SKIN)
    return result


def _rescaled(abcd: AbcdFeatures, scale: float) -> AbcdFeatures:
    """Sizes back at the original image's scale (the analysis ran on a smaller copy)."""
    return replace(abcd, diameter_px=abcd.diameter_px * scale, area_px=int(round(abcd.area_px * scale * scale)))


def analyse_file(image: Path, mask: Path | None = None, **kwargs) -> ImageAnalysis:
    """`analyse_image` on files; an unreadable image or mask gives a status, not an exception."""
    try:
        rgb = read_rgb(image)
    except ImageFileError as exc:
        return ImageAnalysis("unreadable", str(exc))
    lesion = None
    if mask is not None:
        try:
            lesion = read_mask(mask)
        except ImageFileError as exc:
            return ImageAnalysis("unreadable", f"lesion mask: {exc}")
    return analyse_image(rgb, lesion, **kwargs)


def _one_thread_per_worker() -> None:
    """Each worker process keeps BLAS to one thread: N workers on N cores, not N × N threads."""
    threadpool_limits(1)


def _analyse_task(task: tuple) -> dict:
    image, mask, pixel_size_mm, mapping = task
    try:
        return analyse_file(image, mask, pixel_size_mm=pixel_size_mm, mapping=mapping).row()
    except Exception as exc:  # noqa: BLE001 - one image's failure must not end the batch
        return ImageAnalysis("failed", f"{type(exc).__name__}: {exc}").row()


ANALYSIS_VERSION = "2"  # raise when a change to the analysis changes its figures: cached rows of older versions are not read


def _measurer_id(mapping: FstMapping) -> str:
    return f"ita-abcd/{ANALYSIS_VERSION}/{mapping.name}:{','.join(f'{t:g}' for t in mapping.thresholds)}"


def _task_key(task: tuple) -> str | None:
    """The cache key of one analysis task: the image's and mask's bytes and the pixel size; None if a file cannot be read."""
    image, mask, pixel_size_mm, _ = task
    try:
        return content_key(file_sha256(image), file_sha256(mask) if mask else None, extra=f"px={pixel_size_mm}")
    except OSError:
        return None  # analysed (and reported unreadable) without the cache


def analyse_manifest(
    manifest: Manifest,
    *,
    mapping: FstMapping = KINYANJUI,
    use_masks: bool = True,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: MeasurementCache | None = None,
) -> pd.DataFrame:
    """One row per image: its id, annotated skin type and every measurement (see `ImageAnalysis.row`).

    Rows are cached by content in ``cache`` (`fairskin_core.measurement_cache`; `MeasurementCache.of_workspace`: the
    workspace's), where one is given: a second analysis of the same files reads them back. None (or False): none.
    """
    table = manifest.table
    tasks = [
        (
            manifest.image_file(row["image_path"], row["image_root"]),
            manifest.mask_file(row["mask_path"], row["image_root"]) if use_masks else None,
            None if pd.isna(row["pixel_size_mm"]) else float(row["pixel_size_mm"]),
            mapping,
        )
        for _, row in table.iterrows()
    ]
    measurer = _measurer_id(mapping)
    keys = [_task_key(task) for task in tasks] if cache else [None] * len(tasks)
    rows: list[dict | None] = [None] * len(tasks)
    hits = cache.get([k for k in keys if k], measurer) if cache else {}
    todo = [i for i, key in enumerate(keys) if key not in hits]
    for i, key in enumerate(keys):
        if key in hits:
            rows[i] = hits[key]
    done = len(tasks) - len(todo)
    workers = workers or min(os.cpu_count() or 1, 8)
    measured = {}

    def finished(i: int, row: dict) -> None:
        nonlocal done
        rows[i], done = row, done + 1
        if keys[i] and row["status"] != "failed":
            measured[keys[i]] = row
        if cache and len(measured) >= 64:
            cache.put(measured, measurer)
            measured.clear()
        if progress:
            progress(done, len(tasks))

    if progress:
        progress(done, len(tasks))
    if workers > 1 and len(todo) > 16:
        with ProcessPoolExecutor(workers, initializer=_one_thread_per_worker) as pool:
            for i, row in zip(todo, pool.map(_analyse_task, [tasks[i] for i in todo], chunksize=8), strict=True):
                finished(i, row)
    else:
        for i in todo:
            finished(i, _analyse_task(tasks[i]))
    if cache and measured:
        cache.put(measured, measurer)
    known = table[["image_id", "fst", "fst_group", "fst_source", "diagnosis"]].reset_index(drop=True)
    return pd.concat([known, pd.DataFrame(rows)], axis=1)


def with_mappings(table: pd.DataFrame, mappings: list[FstMapping]) -> pd.DataFrame:
    """The analysis table with one ``fst_<mapping>`` column per mapping, from the same measured ITA."""
    table = table.copy()
    for mapping in mappings:
        table[f"fst_{mapping.name}"] = table["ita"].map(lambda ita, m=mapping: m.fst(ita) if pd.notna(ita) else None).astype("Int64")
    return table
