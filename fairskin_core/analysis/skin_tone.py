"""The skin tone of a whole manifest in one call: what `fairskin ita` and `fairskin ita calibrate` do.

`measure_skin_tone` writes the per-image table (and, when asked, the report per mapping and a
copy of the manifest with the estimated types filled in); `calibrate_mapping` fits ITA thresholds
to a manifest's annotated types and saves them. Both return what they measured and wrote in a
`SkinToneRun`, which the CLI prints and a Python caller can use as it is.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..atomic import atomic_file
from ..manifest import Manifest, read_manifest
from ..measurement_cache import MeasurementCache
from ..spreadsheet_csv import write_report_csv
from .estimated_fst import write_estimated_manifest
from .fst_mapping import FstMapping, calibrate, load_mapping
from .pipeline import analyse_manifest, with_mappings
from .tone_report import skin_tone_report

MappingChoice = str | Path | FstMapping  # a built-in mapping's name, a calibration file, or a mapping


@dataclass
class SkinToneRun:
    """What one `measure_skin_tone` or `calibrate_mapping` call measured and wrote."""

    table: pd.DataFrame  # one row per image (`analyse_manifest`); ``fst_estimate`` by the first of ``mappings``
    mappings: list[FstMapping]  # every mapping reported on; after calibration the fitted one is last
    out: Path  # the per-image CSV, or the calibrated mapping's JSON
    reports: dict[str, dict] | None = None  # per mapping name (`skin_tone_report`), where asked for
    report_path: Path | None = None  # where ``reports`` were written (calibration only returns them)
    estimated_manifest: Path | None = None
    n_estimated: int = 0  # rows of ``estimated_manifest`` whose type is the ITA estimate (fst_source ita)
    calibrated: FstMapping | None = None
    n_calibration_images: int = 0  # images with an annotated type and a measured ITA that the fit used


def rows_of_split(manifest: Manifest, split: str) -> Manifest:
    """The manifest's rows of one split (train, val, test), renumbered; refused if there are none."""
    table = manifest.table[manifest.table["split"] == split].reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{manifest.path}: no rows with split {split!r}")
    return dataclasses.replace(manifest, table=table)


def fit_mapping(table: pd.DataFrame, name: str = "calibrated", *, source: str = "analysis") -> tuple[FstMapping, int]:
    """`calibrate` on the rows of an analysis table with an annotated type and a measured ITA; also how many there were."""
    usable = table[(table["status"] == "ok") & table["fst"].notna()]
    if usable.empty:
        raise ValueError(f"{source}: no image with an annotated FST and a measured ITA to calibrate on")
    return calibrate(usable["ita"].to_numpy(), usable["fst"].astype(int).to_numpy(), name=name), len(usable)


def _analysed(
    manifest_path: str | Path,
    split: str | None,
    mappings: Sequence[MappingChoice],
    use_masks: bool,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    cache: MeasurementCache | None,
) -> tuple[Manifest, list[FstMapping], pd.DataFrame]:
    """The manifest (only ``split``'s rows, if given), the mappings loaded, and the analysis by the first of them."""
    if not mappings:
        raise ValueError("give at least one ITA mapping (kinyanjui, groh or a calibration file)")
    loaded = [mapping if isinstance(mapping, FstMapping) else load_mapping(mapping) for mapping in mappings]
    manifest = read_manifest(manifest_path)
    if split:
        manifest = rows_of_split(manifest, split)
    table = analyse_manifest(manifest, mapping=loaded[0], use_masks=use_masks, workers=workers, progress=progress, cache=cache)
    return manifest, loaded, table


def _write_estimated_manifest(run: SkinToneRun, manifest: Manifest, path: str | Path) -> None:
    """The manifest with ``run``'s estimates in its untyped rows, written to ``path`` and recorded in ``run``."""
    run.estimated_manifest = Path(path)
    estimates = run.table[["fst_estimate", "fst_confidence"]].assign(method="ita")
    run.n_estimated = write_estimated_manifest(manifest, estimates, run.estimated_manifest)


def measure_skin_tone(
    manifest_path: str | Path,
    out: str | Path,
    *,
    split: str | None = None,
    mappings: Sequence[MappingChoice] = ("kinyanjui",),
    use_masks: bool = True,
    workers: int | None = None,
    report: bool = False,
    estimated_manifest: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: MeasurementCache | None = None,
) -> SkinToneRun:
    """Skin tone and ABCD features of every image of a manifest, written to the CSV ``out``.

    The first mapping gives ``fst_estimate`` and its confidence; every mapping adds an ``fst_<name>``
    column from the same ITA. ``report``: the distribution and agreement with annotated types per
    mapping, also written beside ``out`` (``.report.json``). ``estimated_manifest``: a copy of the
    manifest whose untyped rows get the first mapping's estimate (fst_source ita). ``use_masks``
    False segments every lesion even where the manifest gives a mask. ``cache``: see `analyse_manifest`.
    """
    manifest, loaded, table = _analysed(manifest_path, split, mappings, use_masks, workers, progress, cache)
    run = SkinToneRun(table, loaded, Path(out))
    with atomic_file(run.out, "w", newline="", encoding="utf-8") as handle:
        write_report_csv(with_mappings(table, loaded), handle)
    if estimated_manifest:
        _write_estimated_manifest(run, manifest, estimated_manifest)
    if report:
        run.reports, run.report_path = skin_tone_report(table, loaded), run.out.with_suffix(".report.json")
        with atomic_file(run.report_path, "w") as handle:
            json.dump(run.reports, handle, indent=2)
    return run


def calibrate_mapping(
    manifest_path: str | Path,
    out: str | Path,
    *,
    split: str | None = None,
    mappings: Sequence[MappingChoice] = ("kinyanjui",),
    use_masks: bool = True,
    workers: int | None = None,
    estimated_manifest: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: MeasurementCache | None = None,
) -> SkinToneRun:
    """Fit ITA → FST thresholds to a manifest's annotated types and save them as the JSON ``out``.

    The mapping is named after the file's stem (how reports and ``fst_<name>`` columns call it).
    Returns the report of ``mappings`` and the fitted mapping on the same images (measured by the
    first of ``mappings``); ``estimated_manifest`` and ``cache`` as in `measure_skin_tone`, by that first mapping.
    """
    manifest, loaded, table = _analysed(manifest_path, split, mappings, use_masks, workers, progress, cache)
    out = Path(out)
    calibrated, n_used = fit_mapping(table, name=out.stem, source=str(manifest_path))
    calibrated.save(out)
    run = SkinToneRun(table, [*loaded, calibrated], out, calibrated=calibrated, n_calibration_images=n_used)
    if estimated_manifest:
        _write_estimated_manifest(run, manifest, estimated_manifest)
    run.reports = skin_tone_report(table, run.mappings)
    return run
