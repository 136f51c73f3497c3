"""`fairskin skin-type`: an estimated skin type for every image of a manifest, with how it was made.

Two methods: ``learned`` (the default: the model of `fairskin_core.skin_type.estimator`, the most
accurate on annotated photographs, docs/skin_tone.md) and ``ita`` (the skin's colour angle through
Kinyanjui's thresholds, `fairskin ita`'s measurement). Every row says its ``method`` and, where
the type is empty, why in ``status`` / ``message``; nothing is guessed. The report gives the
distribution of estimates, the refusals by reason and, where the manifest has annotated types,
the agreement with them (exact, within one, κ, confusion matrix). The learned model (torch) is
imported where it estimates: a study, or the web app, reads these tables without it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..analysis.agreement import agreement_report, format_report
from ..analysis.estimated_fst import fill_estimated_fst, untyped, write_estimated_manifest
from ..analysis.pipeline import analyse_manifest
from ..analysis.skin_tone import rows_of_split
from ..atomic import atomic_file
from ..fst import ROMAN
from ..hashing import file_sha256
from ..manifest import Manifest, read_manifest
from ..measurement_cache import MeasurementCache
from ..spreadsheet_csv import write_report_csv
from .corrections import SkinTypeCorrections

if TYPE_CHECKING:
    from .estimator import SkinTypeEstimator

METHODS = ("learned", "ita")
DEFAULT_METHOD = "learned"
COLUMNS = ("image_id", "fst_estimate", "fst_confidence", "method", "status", "message", "fst", "fst_source", "skin_fraction")


def skin_type_table(
    manifest: Manifest,
    method: str = DEFAULT_METHOD,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: MeasurementCache | None = None,
    corrections: SkinTypeCorrections | None = None,
    estimator: SkinTypeEstimator | None = None,
) -> pd.DataFrame:
    """One row per image of ``manifest``: `COLUMNS`, then the six probabilities (learned) or the ITA (ita).

    An image a person corrected (in ``corrections``: the workspace's in the `fairskin` verbs and the app; None for none) has the
    corrected type, method ``corrected``. ``cache``: see `estimate_files`. ``estimator``: another learned model than the shipped one."""
    if method not in METHODS:
        raise ValueError(f"unknown skin-type method {method!r}; use one of {', '.join(METHODS)}")
    table = manifest.table.reset_index(drop=True)
    files = [manifest.image_file(row["image_path"], row["image_root"]) for _, row in table.iterrows()]
    if method == "learned":
        from .estimator import PROBABILITY_COLUMNS, estimate_files

        estimates = pd.DataFrame(estimate_files(files, estimator, cache=cache, workers=workers, progress=progress),
                                 columns=["status", "message", "fst_estimate", "fst_confidence", "skin_fraction", *PROBABILITY_COLUMNS])
    else:
        analysed = analyse_manifest(manifest, workers=workers, progress=progress, cache=cache)
        estimates = analysed[["status", "message", "fst_estimate", "fst_confidence", "skin_fraction", "ita"]]
    estimates = estimates.assign(image_id=table["image_id"], method=method, fst=table["fst"], fst_source=table["fst_source"])
    estimates["fst_estimate"] = estimates["fst_estimate"].astype("Int64")
    if corrections is not None:
        estimates = with_corrections(estimates, files, corrections)
    return estimates[[*COLUMNS, *(c for c in estimates.columns if c not in COLUMNS)]]


def with_corrections(estimates: pd.DataFrame, files: list[Path], corrections: SkinTypeCorrections) -> pd.DataFrame:
    """``estimates`` with the corrected type in each row whose image (by content) was corrected; annotated rows stay as they are."""
    digests = {}
    for i, file in enumerate(files):
        with contextlib.suppress(OSError):
            digests[i] = file_sha256(file)
    found = corrections.of(digests.values())
    rows = [i for i, digest in digests.items() if digest in found and estimates.at[i, "fst_source"] != "annotated"]
    if not rows:
        return estimates
    estimates = estimates.copy()
    for i in rows:
        correction = found[digests[i]]
        estimates.loc[i, ["fst_estimate", "method", "status"]] = [correction.fst, "corrected", "ok"]
        estimates.at[i, "message"] = (f"corrected by {correction.corrected_by} on {correction.corrected_at[:10]}"
                                      + (f" (was {correction.estimate_was})" if correction.estimate_was else ""))
    return estimates


def with_estimated_fst(manifest: Manifest, method: str = DEFAULT_METHOD, *, cache: MeasurementCache | None = None,
                       corrections: SkinTypeCorrections | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's table with estimated (or corrected) types in its untyped rows, and the estimates of those rows
    (``cache``, ``corrections``: see `skin_type_table`)."""
    table = manifest.table
    rows = untyped(table)
    if not rows.any():
        return table.copy(), pd.DataFrame()
    estimates = skin_type_table(Manifest(table[rows], manifest.root, manifest.path), method, cache=cache, corrections=corrections)
    aligned = pd.DataFrame({"fst_estimate": pd.array([pd.NA] * len(table), dtype="Int64"), "fst_confidence": float("nan"), "method": ""},
                           index=table.index)
    columns = ["fst_estimate", "fst_confidence", "method"]
    aligned.loc[rows.to_numpy(), columns] = estimates[columns].to_numpy()
    return fill_estimated_fst(table, aligned), estimates


@dataclass
class SkinTypeRun:
    """What one `estimate_skin_types` call estimated and wrote."""

    table: pd.DataFrame
    out: Path
    method: str
    report: dict | None = None
    report_path: Path | None = None
    estimated_manifest: Path | None = None
    n_estimated: int = 0  # rows of ``estimated_manifest`` given an estimated or corrected type


def skin_type_report(table: pd.DataFrame) -> dict:
    """The distribution of estimates, refusals by reason, and agreement with annotated types where there are any."""
    annotated = table.assign(fst=table["fst"].where(table["fst_source"] == "annotated"), fst_group="")
    estimated = table["fst_estimate"].dropna().astype(int)
    statuses = table["status"].value_counts()
    report = {
        "method": str(table["method"].iloc[0]) if len(table) else "",
        "n_images": int(len(table)),
        "n_estimated": int(len(estimated)),
        "statuses": {status: int(n) for status, n in statuses.items()},
        "estimated_types": {ROMAN[t]: int((estimated == t).sum()) for t in ROMAN},
        "share_v_vi": float((estimated >= 5).mean()) if len(estimated) else None,
    }
    if annotated["fst"].notna().any():
        report["agreement"] = agreement_report(annotated)
    return report


def format_skin_type_report(report: dict) -> str:
    """The report as `fairskin skin-type --report` prints it."""
    total = max(report["n_estimated"], 1)
    lines = [
        f"method: {report['method']}; images: {report['n_images']}; given a type: {report['n_estimated']} "
        f"({report['n_estimated'] / max(report['n_images'], 1):.0%})",
        "statuses: " + ", ".join(f"{status} {n}" for status, n in report["statuses"].items()),
        "estimated types: " + ", ".join(f"{t} {n} ({n / total:.0%})" for t, n in report["estimated_types"].items()),
    ]
    if "agreement" in report:
        lines.append(format_report(report["agreement"], report["method"]).split("\n", 1)[1])
    else:
        lines.append("no image has an annotated skin type: agreement not computable")
    return "\n".join(lines)


def estimate_skin_types(
    manifest_path: str | Path,
    out: str | Path,
    *,
    method: str = DEFAULT_METHOD,
    split: str | None = None,
    report: bool = False,
    estimated_manifest: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: MeasurementCache | None = None,
    corrections: SkinTypeCorrections | None = None,
) -> SkinTypeRun:
    """The skin type of every image of a manifest (only ``split``'s rows, if given), written to the CSV ``out``.

    ``report``: also the distribution and agreement (`skin_type_report`), written beside ``out`` (``.report.json``).
    ``estimated_manifest``: a copy of the manifest whose untyped rows get their estimate (``fst_source`` the method,
    with ``fst_confidence``), or their correction; annotated rows are copied as they are. ``cache``, ``corrections``: see
    `skin_type_table`.
    """
    manifest = read_manifest(manifest_path)
    if split:
        manifest = rows_of_split(manifest, split)
    run = SkinTypeRun(skin_type_table(manifest, method, workers=workers, progress=progress, cache=cache, corrections=corrections),
                      Path(out), method)
    with atomic_file(run.out, "w", newline="", encoding="utf-8") as handle:
        write_report_csv(run.table, handle)
    if estimated_manifest:
        run.estimated_manifest = Path(estimated_manifest)
        run.n_estimated = write_estimated_manifest(manifest, run.table, run.estimated_manifest)
    if report:
        run.report, run.report_path = skin_type_report(run.table), run.out.with_suffix(".report.json")
        with atomic_file(run.report_path, "w") as handle:
            json.dump(run.report, handle, indent=2)
    return run
