"""The learned skin-type estimator against annotations, beside ITA and the second annotator; ISIC 2017; speed.

    python benchmarks/skin_type_accuracy.py [--model FOLDER] [--out docs] [--no-isic]

1. Fitzpatrick17k test split (the model folder's split.csv: never trained or calibrated on), from
   ../shared/real_samples (or $FAIRSKIN_REAL_SAMPLES): per type, exact and within-one agreement
   with the Scale AI type and the share given a type, for the learned method, ITA (Kinyanjui's
   thresholds) and the Centaur Labs annotator; the three confusion matrices; the reliability
   diagram of the learned probabilities and the confidence threshold's trade-off.
2. ISIC 2017 (2,750 dermoscopy images): the share called V–VI and the share refused by reason,
   both methods; a contact sheet of every image the learned method calls V–VI.
3. Speed: images per second of the learned method at 256 px (no cache), and a cached re-open of
   ISIC 2017 (the second `skin_type_table` call, which reads the measurement cache).
Writes ``skin_type_results.json`` and the figures into ``--out``; prints Markdown for docs/skin_tone.md.
Fitzpatrick17k images never appear in any output (no consent for display): only figures of numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from isic_skin_tone import REAL, isic2017_manifest, save_png
from PIL import Image, ImageDraw

from fairskin_core.analysis.agreement import agreement_report
from fairskin_core.fst import ROMAN
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import read_manifest
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.skin_type.estimator import MODEL_DIR, SPLIT_FILE, SkinTypeEstimator
from fairskin_core.skin_type.manifest_estimates import skin_type_table

F17K = REAL / "fitzpatrick17k_256px"


def per_type(truth: np.ndarray, estimate: np.ndarray) -> dict:
    """Exact / within one / share estimated, overall and per annotated type (estimate 0 = none given)."""
    given = estimate > 0

    def figures(rows: np.ndarray) -> dict:
        known = rows & given
        return {"n": int(rows.sum()), "estimated": float(known.sum() / max(rows.sum(), 1)),
                "exact": float(np.mean(estimate[known] == truth[known])) if known.any() else None,
                "within_one": float(np.mean(np.abs(estimate[known] - truth[known]) <= 1)) if known.any() else None}

    return {"all": figures(np.ones(len(truth), bool)), **{ROMAN[t]: figures(truth == t) for t in ROMAN}}


def confusion(truth: np.ndarray, estimate: np.ndarray) -> list[list[int]]:
    matrix = np.zeros((6, 6), int)
    for t, e in zip(truth, estimate, strict=True):
        if e > 0:
            matrix[t - 1, e - 1] += 1
    return matrix.tolist()


def heatmaps(matrices: dict[str, list[list[int]]]) -> go.Figure:
    from plotly.subplots import make_subplots

    plot = make_subplots(1, len(matrices), subplot_titles=list(matrices), horizontal_spacing=0.06)
    labels = list(ROMAN.values())
    for i, matrix in enumerate(matrices.values(), start=1):
        values = np.array(matrix)
        shares = values / np.maximum(values.sum(1, keepdims=True), 1)
        plot.add_heatmap(z=shares, x=labels, y=labels, text=values, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                         showscale=False, row=1, col=i)
        plot.update_xaxes(title_text="estimated", row=1, col=i)
        plot.update_yaxes(title_text="annotated (Scale AI)" if i == 1 else "", autorange="reversed", row=1, col=i)
    plot.update_layout(title="Fitzpatrick17k test split: confusion matrices (colour: share of each annotated type)", width=1000, height=420,
                      margin={"l": 60, "r": 20})
    return plot


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[go.Figure, float, list]:
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence >= low) & (confidence < high if high < 1 else confidence <= high)
        if inside.any():
            rows.append({"bin": f"{low:.1f}-{high:.1f}", "n": int(inside.sum()), "confidence": float(confidence[inside].mean()),
                         "accuracy": float(correct[inside].mean())})
            ece += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    plot = go.Figure()
    plot.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect calibration")
    plot.add_scatter(x=[r["confidence"] for r in rows], y=[r["accuracy"] for r in rows], mode="lines+markers+text",
                     text=[str(r["n"]) for r in rows], textposition="top center", name="learned estimator (n per bin)")
    plot.update_layout(title=f"Reliability of the learned estimator's confidence (Fitzpatrick17k test split; ECE {ece:.3f})",
                       xaxis_title="confidence (probability of the estimated type)", yaxis_title="share exactly right",
                       width=800, height=560, xaxis_range=[0, 1], yaxis_range=[0, 1])
    return plot, float(ece), rows


def contact_sheet(rows: pd.DataFrame, files: dict[str, Path], path: Path, side: int = 160) -> None:
    """Every listed ISIC image, with its id, estimated type and confidence under it."""
    count = max(len(rows), 1)
    columns = min(6, count)
    sheet = Image.new("RGB", (columns * side, -(-count // columns) * (side + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (_, row) in enumerate(rows.iterrows()):
        image = Image.open(files[row["image_id"]]).convert("RGB")
        image.thumbnail((side, side))
        x, y = (i % columns) * side, (i // columns) * (side + 18)
        sheet.paste(image, (x, y))
        draw.text((x + 2, y + side + 2), f"{row['image_id']} {ROMAN[int(row['fst_estimate'])]} {row['fst_confidence']:.2f}", fill="black")
    sheet.save(path)


def fitzpatrick17k_test(model: Path, work: Path) -> tuple[dict, dict]:
    split = pd.read_csv(model / SPLIT_FILE, dtype={"md5hash": str})
    test = split[split["split"] == "test"].reset_index(drop=True)
    labels = pd.read_csv(F17K / "fitzpatrick17k.csv", dtype={"md5hash": str})
    chosen = labels[labels["md5hash"].isin(test["md5hash"])]
    chosen.to_csv(work / "f17k_test.csv", index=False)
    imported = import_dataset("fitzpatrick17k", work / "f17k_test.csv", [F17K / "images"], work / "f17k_test_manifest.csv")
    manifest = read_manifest(imported.manifest)
    table = manifest.table.assign(md5hash=[Path(p).stem for p in manifest.table["image_path"]])
    test = test.set_index("md5hash").loc[table["md5hash"]]
    cache = MeasurementCache(work / "cache.sqlite")
    started = time.perf_counter()
    learned = skin_type_table(manifest, "learned", cache=cache, estimator=SkinTypeEstimator(model))
    seconds = time.perf_counter() - started
    ita = skin_type_table(manifest, "ita", cache=cache)
    truth = test["fitzpatrick_scale"].to_numpy(int)
    centaur = test["fitzpatrick_centaur"].clip(lower=0).to_numpy(int)
    estimates = {"learned": learned["fst_estimate"].fillna(0).to_numpy(int), "ITA (Kinyanjui)": ita["fst_estimate"].fillna(0).to_numpy(int),
                 "second annotator (Centaur Labs)": centaur}
    probabilities = learned[[f"p_fst{k}" for k in ROMAN]].to_numpy(float)
    measured = ~np.isnan(probabilities).any(1)
    median = (np.cumsum(probabilities[measured], 1) < 0.5).sum(1) + 1
    confidence = probabilities[measured][np.arange(measured.sum()), median - 1]
    thresholds = []
    for threshold in (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        accepted = confidence >= threshold
        thresholds.append({"threshold": threshold, "estimated": float(accepted.sum() / len(truth)),
                           "within_one": float(np.mean(np.abs(median[accepted] - truth[measured][accepted]) <= 1)),
                           "exact": float(np.mean(median[accepted] == truth[measured][accepted]))})
    figure, ece, bins = reliability(confidence, median == truth[measured])
    results = {
        "n_test": int(len(truth)),
        "per_type": {name: per_type(truth, e) for name, e in estimates.items()},
        "confusion": {name: confusion(truth, e) for name, e in estimates.items()},
        "kappa_linear": {name: agreement_report(pd.DataFrame({"fst": truth, "fst_estimate": pd.array(np.where(e > 0, e, None), "Int64"),
                                                               "fst_group": ""}))["kappa_linear"] for name, e in estimates.items()},
        "learned_statuses": learned["status"].value_counts().to_dict(),
        "ita_statuses": ita["status"].value_counts().to_dict(),
        "calibration": {"ece": ece, "bins": bins, "thresholds": thresholds},
        "speed_images_per_s": len(truth) / seconds,
    }
    return results, {"confusion": heatmaps(results["confusion"]), "reliability": figure}


def isic2017(work: Path, out: Path) -> dict:
    manifest = read_manifest(isic2017_manifest(work))
    files = {r["image_id"]: manifest.image_file(r["image_path"], r["image_root"]) for _, r in manifest.table.iterrows()}
    cache = MeasurementCache(work / "isic_cache.sqlite")
    results = {"n": int(len(manifest.table))}
    for method in ("learned", "ita"):
        started = time.perf_counter()
        table = skin_type_table(manifest, method, cache=cache)
        first = time.perf_counter() - started
        started = time.perf_counter()
        skin_type_table(manifest, method, cache=cache)
        again = time.perf_counter() - started
        estimated = table["fst_estimate"].dropna().astype(int)
        results[method] = {"estimated": float(len(estimated) / len(table)), "v_vi": int((estimated >= 5).sum()),
                           "v_vi_share": float((estimated >= 5).mean()), "types": estimated.value_counts().sort_index().to_dict(),
                           "statuses": table["status"].value_counts().to_dict(), "seconds": first, "cached_seconds": again,
                           "by_split": {split: {"images": int(rows.sum()), "estimated": int(table.loc[rows, "fst_estimate"].notna().sum()),
                                                "v_vi": int((table.loc[rows, "fst_estimate"] >= 5).sum())}
                                        for split in ("train", "val", "test") for rows in [manifest.table["split"].eq(split).to_numpy()]}}
        if method == "learned":
            dark = table[table["fst_estimate"] >= 5].sort_values("fst_confidence", ascending=False)
            contact_sheet(dark, files, out / "isic2017_learned_v_vi.png")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--no-isic", action="store_true")
    args = parser.parse_args()
    if not F17K.is_dir():
        raise SystemExit(f"{F17K}: not found; set FAIRSKIN_REAL_SAMPLES to the real_samples folder")
    SkinTypeEstimator(args.model)  # fail early on a bad folder
    os.environ.setdefault("FAIRSKIN_HOME", tempfile.mkdtemp())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results, figures = fitzpatrick17k_test(args.model, work)
        for name, figure in figures.items():
            save_png(figure, args.out / f"skin_type_{name}.png")
        if not args.no_isic:
            results["isic2017"] = isic2017(work, args.out)
    results["machine"] = f"{os.cpu_count()} CPU cores"
    (args.out / "skin_type_results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
