"""A quality report of a synthetic set against a real one: overall and per Fitzpatrick group.

`build_report` measures everything; `write_report` writes ``report.json``, per-image CSVs and a
self-contained HTML page. Nothing partial passes for complete: any image that could not be
read is listed, and the report says ``complete: false``.

Per group (overall; each type I–VI; the groups I–II, III–IV, V–VI) the real and synthetic images
of that group are compared: FID and KID (± std over subsets; KID is the number to trust for the
small sets a group often is). Overall also FID∞ and the Inception Score where the weights have
a classifier. Diversity per FST × diagnosis cell (MS-SSIM always, LPIPS where its weights
exist), memorization against the real training images, FST fidelity of the synthetic images and
ABCD realism come from the images themselves.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
from PIL import Image

from ..analysis.pipeline import analyse_manifest
from ..atomic import atomic_dir, atomic_file
from ..fst import FST_GROUPS, ROMAN
from ..manifest import Manifest, read_manifest
from ..measurement_cache import MeasurementCache
from ..spreadsheet_csv import write_report_csv
from .abcd_realism import abcd_realism
from .diversity import DIVERSITY_SIZE, bootstrap_mean, load_squares, real_diversity, synthetic_diversity
from .features import FeatureCache, extract_features
from .fid import MIN_IMAGES, RankDeficientCovarianceWarning, fid, fid_infinity, small_sample_bias
from .fidelity import fst_fidelity
from .figures import report_figures
from .floor import real_floor
from .inception import load_inception
from .inception_score import inception_score
from .kid import kid
from .lpips_distance import LpipsDistance, LpipsUnavailable
from .memorization import LPIPS_CANDIDATES, copy_summary, k_nearest, nearest, rerank

KID_SUBSET = 1000
CLOSEST_PAIRS = 8
Progress = Callable[[float, str], None]


def _group_masks(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which rows belong to each group: overall, every type, every I-II/III-IV/V-VI group.

    A row's group comes from ``fst_group`` (filled from ``fst`` when the type is known, the only
    skin-type information of grouped rows); rows of unknown type belong to "overall" only."""
    fst = table["fst"].to_numpy(dtype=float, na_value=np.nan)
    group = table["fst_group"].to_numpy(dtype=object)
    masks = {"overall": np.ones(len(table), dtype=bool)}
    masks.update({ROMAN[t]: fst == t for t in ROMAN})
    masks.update({g: group == g for g in FST_GROUPS})
    return masks


def _not_computable(name: str, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """Why a skin-type group cannot be compared at all, e.g. "not computable: no skin types in the real set"; "" if it can."""
    if name == "overall":
        return ""
    exact = name in ROMAN.values()
    missing = {}
    for side, table in (("real", real), ("synthetic", synthetic)):
        grouped = (table["fst_group"] != "").any()
        if not (table["fst"].notna().any() if exact else grouped):
            missing[side] = "only grouped skin types" if grouped else "no skin types"
    if len(missing) == 2 and len(set(missing.values())) == 1:
        return f"not computable: {missing['real']} in either set"
    return "not computable: " + "; ".join(f"{why} in the {side} set" for side, why in missing.items()) if missing else ""


def _compare_groups(
    real: pd.DataFrame, synthetic: pd.DataFrame, real_features: np.ndarray, synthetic_features: np.ndarray, seed: int
) -> list[dict]:
    real_masks, synthetic_masks = _group_masks(real), _group_masks(synthetic)
    rows = []
    for name in real_masks:
        a, b = real_features[real_masks[name]], synthetic_features[synthetic_masks[name]]
        row = {
            "group": name, "n_real": int(len(a)), "n_synthetic": int(len(b)), "fid": None, "kid": None,
            "note": _not_computable(name, real, synthetic), "fid_note": "",
        }
        if not row["note"] and min(len(a), len(b)) < MIN_IMAGES:
            row["note"] = (f"not computable: {len(a)} real and {len(b)} synthetic images; "
                           f"FID and KID need at least {MIN_IMAGES} on each side")
        elif not row["note"]:
            with warnings.catch_warnings():  # fid_note below says it, once per group
                warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
                row["fid"] = float(fid(a, b))
            # Subsets of half the smaller set: subsets as large as a set would all be that set (std 0).
            distance = kid(a, b, subset_size=min(KID_SUBSET, max(2, min(len(a), len(b)) // 2)), seed=seed)
            row["kid"] = {"mean": distance.mean, "std": distance.std}
            bias = small_sample_bias(min(len(a), len(b)), a.shape[1])
            row["fid_note"] = f"{bias}; compare KID" if bias else ""
        rows.append(row)
    return rows


def _memorization(real: Manifest, real_features, synthetic_table, synthetic_features, synthetic_images, lpips):
    """Nearest real training image of each synthetic image by Inception features and, where it runs, LPIPS.

    Held-out real images (split val/test) measured the same way give the baseline for suspected copies.
    Returns the report's section and the per-image nearest-neighbour columns.
    """
    real_table = real.table
    split = real_table["split"]
    train = (split == "train").to_numpy() if (split == "train").any() else np.ones(len(real_table), bool)
    heldout = ~train & split.isin(["val", "test"]).to_numpy()
    train_rows, heldout_rows = np.flatnonzero(train), np.flatnonzero(heldout)
    train_features = real_features[train]
    by_inception = nearest(synthetic_features, train_features)
    heldout_by_inception = nearest(real_features[heldout], train_features)
    section = {
        "train_images": int(train.sum()),
        "heldout_images": int(heldout.sum()),
        "by": {"inception": copy_summary(by_inception.distance, heldout_by_inception.distance)},
    }
    columns = {
        "nearest_real": real_table["image_id"].to_numpy()[train_rows[by_inception.index]], "nearest_real_distance": by_inception.distance,
    }
    closest = by_inception
    real_images: dict[int, np.ndarray] = {}
    if lpips:
        section["lpips_candidates"] = LPIPS_CANDIDATES

        def lpips_to_train(query_images: list[np.ndarray], query_features: np.ndarray):
            candidates = k_nearest(query_features, train_features, LPIPS_CANDIDATES).index
            needed = set(train_rows[np.unique(candidates)]) - set(real_images)
            real_images.update(load_squares(real, sorted(needed)))
            images = [*query_images, *(real_images.get(r) for r in train_rows)]  # a query, then a training image, by index
            return rerank(candidates, lambda pairs: lpips.between(images, pairs + [0, len(query_images)]))

        by_lpips = lpips_to_train([synthetic_images[i] for i in range(len(synthetic_table))], synthetic_features)
        heldout_images = load_squares(real, heldout_rows)
        heldout_by_lpips = lpips_to_train([heldout_images[r] for r in heldout_rows], real_features[heldout])
        section["by"]["lpips"] = copy_summary(by_lpips.distance, heldout_by_lpips.distance)
        columns.update(
            nearest_real_lpips=real_table["image_id"].to_numpy()[train_rows[by_lpips.index]], nearest_real_lpips_distance=by_lpips.distance
        )
        closest = by_lpips
    section["closest_by"] = "lpips" if lpips else "inception"
    order = np.argsort(closest.distance)[:CLOSEST_PAIRS]
    pairs = [(int(i), int(train_rows[closest.index[i]]), float(closest.distance[i])) for i in order]
    real_images.update(load_squares(real, sorted({r for _, r, _ in pairs} - set(real_images))))
    section["closest_pairs"] = [
        {"synthetic": synthetic_table["image_id"].iat[s], "real": real_table["image_id"].iat[r], "distance": d,
         "synthetic_thumbnail": _thumbnail(synthetic_images[s]), "real_thumbnail": _thumbnail(real_images[r])}
        for s, r, d in pairs if s in synthetic_images and r in real_images
    ]
    return section, pd.DataFrame(columns)


def _thumbnail(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def inception_score_section(logits: np.ndarray | None) -> dict:
    """The report's IS: the score with its caveat, or why there is none (weights without a classifier, fewer images than splits)."""
    try:
        mean, std = inception_score(logits)
    except ValueError as exc:  # InceptionScoreUnavailable or too few images: the report goes on without it
        return {"available": False, "reason": str(exc)}
    return {"available": True, "mean": mean, "std": std,
            "caveat": "ImageNet classes say little about skin: read as a sanity check, not as quality"}


def _refuse_too_small(side: str, manifest: Manifest, images: int, failures: Sequence[tuple[Path, str]] = ()) -> None:
    """Refuse a set with fewer images than FID and KID need: a covariance, and KID's unbiased estimate, take 2."""
    if images >= MIN_IMAGES:
        return
    count = "no images" if images == 0 else f"{images} image"
    if failures:
        count += f" that could be read, of {len(manifest.table)} ({failures[0][1]})"
    raise ValueError(f"The {side} set ({manifest.path}) has {count}; FID and KID need at least {MIN_IMAGES} in each set.")


def build_report(
    real_path: str | Path,
    synthetic_path: str | Path,
    *,
    weights: str = "auto",
    seed: int = 0,
    workers: int | None = None,
    progress: Progress | None = None,
    allowed_roots: list[Path] | None = None,
    feature_cache: FeatureCache | None = None,
    measurement_cache: MeasurementCache | None = None,
    allow_download: bool = True,
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Measure a synthetic manifest against a real one; returns the report and per-image tables.

    ``allowed_roots`` (the web app): folders the manifests and their images must lie in. ``feature_cache``,
    ``measurement_cache``: where Inception features and per-image measurements are kept between runs (the workspace's, in
    `fairskin metrics` and the app; None: nothing kept). ``allow_download``: Inception's and LPIPS's weights may be fetched."""

    def step(fraction: float, what: str) -> None:
        if progress:
            progress(fraction, what)

    real, synthetic = (read_manifest(p, allowed_roots=allowed_roots) for p in (real_path, synthetic_path))
    for manifest, side in ((real, "real"), (synthetic, "synthetic")):
        _refuse_too_small(side, manifest, len(manifest.table))
    extractor = load_inception(weights, allow_download=allow_download)

    def features_of(manifest: Manifest, start: float, span: float, side: str):
        paths = manifest.image_files()
        return extract_features(paths, extractor, workers=workers, cache=feature_cache,
                                progress=lambda done, total: step(start + span * done / total, f"Inception features of the {side} images"))

    real_result = features_of(real, 0.0, 0.4, "real")
    synthetic_result = features_of(synthetic, 0.4, 0.3, "synthetic")
    failures = [{"set": "real", "file": str(f), "reason": r} for f, r in real_result.failures] + [
        {"set": "synthetic", "file": str(f), "reason": r} for f, r in synthetic_result.failures
    ]
    real_ok, synthetic_ok = real_result.ok, synthetic_result.ok
    real_table, synthetic_table = real.table[real_ok].reset_index(drop=True), synthetic.table[synthetic_ok].reset_index(drop=True)
    real_features, synthetic_features = real_result.features[real_ok], synthetic_result.features[synthetic_ok]
    for manifest, side, result in ((real, "real", real_result), (synthetic, "synthetic", synthetic_result)):
        _refuse_too_small(side, manifest, int(result.ok.sum()), result.failures)

    step(0.7, "FID and KID per skin type")
    groups = _compare_groups(real_table, synthetic_table, real_features, synthetic_features, seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            extrapolation = fid_infinity(real_features, synthetic_features, seed=seed)
    except ValueError as exc:
        extrapolation = {"points": [], "note": str(exc)}
    else:  # FID∞ removes the synthetic set's bias only from thousands of images, the real set's never
        bias = small_sample_bias(min(len(real_features), len(synthetic_features)), real_features.shape[1])
        extrapolation["fid_note"] = f"still {bias}, the extrapolation needs thousands; compare KID" if bias else ""
    score = inception_score_section(synthetic_result.logits[synthetic_ok] if synthetic_result.logits is not None else None)

    step(0.75, "skin tone and ABCD of every image")
    real_measurable = Manifest(real_table, real.root, real.path)
    synthetic_measurable = Manifest(synthetic_table, synthetic.root, synthetic.path)
    real_measured = analyse_manifest(real_measurable, workers=workers, cache=measurement_cache)
    synthetic_measured = analyse_manifest(synthetic_measurable, workers=workers, cache=measurement_cache)

    step(0.85, "diversity and memorization")
    synthetic_images = load_squares(synthetic_measurable, range(len(synthetic_table)))
    try:
        lpips, lpips_note = LpipsDistance(allow_download=allow_download), ""
    except LpipsUnavailable as exc:
        lpips, lpips_note = None, str(exc)
    diversity, diversity_pairs = synthetic_diversity(synthetic_images, synthetic_table, seed, lpips)
    diversity["lpips_note"] = lpips_note
    floor = real_floor(real_features, synthetic_features, seed)
    floor["diversity"] = {
        "real": real_diversity(real_measurable, seed, lpips, measurement_cache),
        "synthetic": {"pairs": diversity["pairs_measured"],
                      "ms_ssim": bootstrap_mean(diversity_pairs["ms_ssim"].to_numpy(dtype=float), seed),
                      "lpips": bootstrap_mean(diversity_pairs["lpips"].to_numpy(dtype=float), seed) if lpips else None},
        "note": "pairs within a diagnosis (real) and within a skin type × diagnosis cell (synthetic)",
    }
    memorization, nearest_real = _memorization(real_measurable, real_features, synthetic_table, synthetic_features, synthetic_images, lpips)
    memorization["lpips_note"] = lpips_note

    step(0.95, "FST fidelity and ABCD realism")
    report = {
        "complete": not failures,
        "failures": failures,
        "settings": {"features": extractor.id, "lpips": lpips.id if lpips else None, "seed": seed,
                     "diversity_size_px": DIVERSITY_SIZE},
        "sets": {
            "real": {"manifest": str(real.path), "images": int(len(real.table)), "measured": int(len(real_table))},
            "synthetic": {"manifest": str(synthetic.path), "images": int(len(synthetic.table)), "measured": int(len(synthetic_table))},
        },
        "groups": groups,
        "real_floor": floor,
        "fid_infinity": extrapolation,
        "inception_score": score,
        "diversity": diversity,
        "memorization": memorization,
        "fst_fidelity": fst_fidelity(synthetic_measured),
        "abcd_realism": abcd_realism(real_measured, synthetic_measured),
    }
    tables = {
        "synthetic_images": pd.concat([synthetic_measured, nearest_real], axis=1),
        "real_images": real_measured,
        "groups": pd.DataFrame([
            {**g, "kid": g["kid"]["mean"] if g["kid"] else None, "kid_std": g["kid"]["std"] if g["kid"] else None} for g in groups
        ]),
        "diversity_pairs": diversity_pairs,
    }
    step(1.0, "done")
    return report, tables


def summary_lines(report: dict) -> list[str]:
    """The report's headline figures as text (the CLI prints them, the Quality tab shows them)."""
    lines = [] if report["complete"] else [f"PARTIAL: {len(report['failures'])} image(s) could not be read and are left out"]
    lines.append(f"features: {report['settings']['features']}")
    for group in report["groups"]:
        if group["fid"] is None:
            lines.append(f"  {group['group']:>8}: {group['note']}")
        else:
            spread = group["kid"]["std"]
            kid_text = f"KID {group['kid']['mean']:.4f} " + (
                f"± {spread:.4f}" if spread is not None else "(no ±: too few images for subsets that differ)")
            lines.append(f"  {group['group']:>8}: FID {group['fid']:7.2f}{_caveat(group['fid_note'])}  {kid_text}  "
                         f"({group['n_real']} real, {group['n_synthetic']} synthetic)")
    floor = report["real_floor"]
    if floor["real_vs_real"]:
        real, synthetic = floor["real_vs_real"], floor["synthetic_vs_real"]
        lines.append(f"real floor ({floor['n_each']} vs {floor['n_each']}): "
                     f"real half vs real half FID {real['fid']:.2f} KID {real['kid']['mean']:.4f}; "
                     f"synthetic vs the same real half FID {synthetic['fid']:.2f} KID {synthetic['kid']['mean']:.4f}"
                     + _caveat(floor["fid_note"]))
    else:
        lines.append(f"real floor: {floor['note']}")
    extrapolation = report["fid_infinity"]
    if extrapolation.get("points"):
        lines.append(f"FID∞ {extrapolation['intercept']:.2f}{_caveat(extrapolation['fid_note'])}")
    else:
        lines.append(extrapolation["note"])
    if "inception_score" in report:  # absent only from hand-made reports
        score = report["inception_score"]
        lines.append(f"Inception Score {score['mean']:.2f} ± {score['std']:.2f}{_caveat(score['caveat'])}" if score["available"]
                     else score["reason"])
    fidelity = report["fst_fidelity"]
    if fidelity.get("n_estimated"):
        lines.append(f"FST fidelity: {fidelity['within_one']:.1%} within one type (target > {fidelity['target_within_one']:.0%}), "
                     f"exact {fidelity['exact']:.1%}, of {fidelity['n_estimated']} measured (method {fidelity['method']}"
                     + (f", mean confidence {fidelity['mean_confidence']:.2f})" if fidelity["mean_confidence"] is not None else ")"))
    else:
        lines.append("FST fidelity: not computable: no synthetic image has a requested skin type and a measured one")
    diversity = report["diversity"]
    for metric, name in (("lpips", "LPIPS"), ("ms_ssim", "MS-SSIM")):
        if diversity["by_fst"][metric] is not None:
            real = floor["diversity"]["real"][metric]["mean"]
            synthetic = ", ".join(f"{ROMAN.get(int(c['fst']), c['fst']) if str(c['fst']).isdigit() else c['fst']} {c['mean']:.3f}"
                                  for c in diversity["by_fst"][metric])
            lines.append(f"{name} diversity per skin type ({diversity['pairs_measured']} pairs, listed in diversity_pairs.csv): "
                         + (synthetic or "not computable: no skin type × diagnosis cell holds 2 synthetic images")
                         + (f"; real images {real:.3f}" if real is not None else ""))
    for distance, check in report["memorization"]["by"].items():
        if check["suspected_copies"] is not None:
            lines.append(f"memorization ({distance}): {check['suspected_copies']} suspected near-copies of training images")
    if report["diversity"]["lpips_note"]:
        lines.append(f"LPIPS: {report['diversity']['lpips_note']}")
    return lines


def _caveat(note: str) -> str:
    """A figure's caveat, to stand right after the figure."""
    return f" ({note})" if note else ""


def closest_pairs_html(memorization: dict) -> str:
    """The closest synthetic ↔ real pairs as HTML figures; image ids come from user manifests, so they are escaped."""
    by = escape(memorization["closest_by"])
    return "".join(
        f"<figure style='display:inline-block;margin:6px'><img src='data:image/png;base64,{escape(p['synthetic_thumbnail'])}'>"
        f"<img src='data:image/png;base64,{escape(p['real_thumbnail'])}'><figcaption>{escape(p['synthetic'])} ↔ {escape(p['real'])} "
        f"({by} distance {p['distance']:.3g})</figcaption></figure>"
        for p in memorization["closest_pairs"]
    )


def _html(report: dict) -> str:
    """The self-contained report page; every text from the data (ids, paths, notes) is escaped, figures by plotly."""
    figures = report_figures(report)
    parts = [pio.to_html(f, full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures.values())]
    banner = "" if report["complete"] else (
        f"<p style='background:#fdd;padding:8px'><b>Partial report:</b> {len(report['failures'])} image(s) could not be read "
        "and are left out (see report.json).</p>"
    )
    summary = escape("\n".join(summary_lines(report)))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>fairskin quality report</title></head>"
        "<body style='font-family:sans-serif'>"
        f"<h1>fairskin quality report</h1>{banner}<pre style='white-space:pre-wrap'>{summary}</pre>{''.join(parts)}"
        f"<h2>Closest synthetic ↔ real training pairs</h2>{closest_pairs_html(report['memorization'])}</body></html>"
    )


def write_report(report: dict, tables: dict[str, pd.DataFrame], out: str | Path, *, overwrite: bool = False) -> Path:
    """report.json, one CSV per table and report.html into the new folder ``out``, all or nothing."""
    with atomic_dir(out, overwrite=overwrite) as folder:
        _write_report_files(report, tables, folder)
    return Path(out)


def quality_report(
    real_path: str | Path, synthetic_path: str | Path, out: str | Path, *, overwrite: bool = False, **options
) -> tuple[dict, Path]:
    """`build_report` (``options``) written into the new folder ``out``: what `fairskin metrics` and the Quality tab do.

    An ``out`` that `write_report` would refuse is refused before the minutes of measuring, not after."""
    with atomic_dir(out, overwrite=overwrite) as folder:
        report, tables = build_report(real_path, synthetic_path, **options)
        _write_report_files(report, tables, folder)
    return report, Path(out)


def _write_report_files(report: dict, tables: dict[str, pd.DataFrame], folder: Path) -> None:
    with atomic_file(folder / "report.json", "w") as handle:
        json.dump(report, handle, indent=2)
    for name, table in tables.items():
        with atomic_file(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            write_report_csv(table, handle)
    with atomic_file(folder / "report.html", "w", encoding="utf-8") as handle:
        handle.write(_html(report))
