"""The accuracy table of docs/skin_tone.md: ITA → FST mappings on phantoms, and real-data checks.

    python benchmarks/skin_tone_accuracy.py [--n 1200]

Calibrates a mapping on one phantom set (seed 31) and evaluates Kinyanjui, Groh and the
calibrated mapping on an independent set (seed 32), with the manifest's lesion masks and with
lesions segmented. Where ../shared/real_samples exists (or $FAIRSKIN_REAL_SAMPLES): lesion
segmentation against the official ISIC 2017 masks, and the ITA of each image's 1024 px and
256 px copies. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from fairskin_core.analysis.agreement import agreement_report
from fairskin_core.analysis.fst_mapping import GROH, KINYANJUI
from fairskin_core.analysis.pipeline import analyse_image, analyse_manifest, with_mappings
from fairskin_core.analysis.segmentation import segment_lesion
from fairskin_core.analysis.skin_tone import fit_mapping
from fairskin_core.images import read_mask, read_rgb
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms import render_phantom
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.phantoms.workspace_sets import DEFAULT_PHANTOMS

REAL = Path(os.environ.get("FAIRSKIN_REAL_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "real_samples")


def phantom_table(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        calibration = analyse_manifest(read_manifest(write_phantom_dataset(Path(tmp) / "cal", n=n, size=256, seed=31)))
        calibrated, _ = fit_mapping(calibration)
        evaluation = read_manifest(write_phantom_dataset(Path(tmp) / "eval", n=n, size=256, seed=32))
        print(f"Calibrated thresholds (lower bounds of I–V): {', '.join(f'{t:.1f}°' for t in calibrated.thresholds)}\n")
        header = "| lesion mask | mapping | exact | within one | κ (linear) | lowest per-type exact | lowest per-type within one |"
        rows, abcd = [header, "| --- | --- | --- | --- | --- | --- | --- |"], []
        truth = read_manifest(evaluation.path, check_files="none").table
        for masks in (True, False):
            source = "given" if masks else "segmented"
            table = analyse_manifest(evaluation, use_masks=masks)
            for mapping in (KINYANJUI, GROH, calibrated):
                report = agreement_report(with_mappings(table, [mapping]), estimate=f"fst_{mapping.name}")
                exact_type = min(report["recall"], key=report["recall"].get)
                near_type = min(report["within_one_by_type"], key=report["within_one_by_type"].get)
                rows.append(
                    f"| {source} | {mapping.name} | {report['exact']:.1%} | {report['within_one']:.1%} | {report['kappa_linear']:.3f} | "
                    f"{exact_type} {report['recall'][exact_type]:.1%} | {near_type} {report['within_one_by_type'][near_type]:.1%} |"
                )
            rho = {f: spearmanr(table[f], truth[g].astype(float)).statistic for f, g in
                   (("asymmetry", "gt_asymmetry"), ("border_compactness", "gt_border_compactness"), ("diameter_px", "gt_diameter_px"))}
            colours = (table["n_colours"] - truth["gt_n_colors"].astype(float)).abs()
            abcd.append(f"ABCD with {source} masks ({len(table)} images): Spearman ρ asymmetry {rho['asymmetry']:.3f}, border "
                        f"{rho['border_compactness']:.3f}, diameter {rho['diameter_px']:.3f}; colour count exact "
                        f"{np.mean(colours == 0):.1%}, within one {np.mean(colours <= 1):.1%}")
        print("\n".join(rows) + "\n\n" + "\n\n".join(abcd) + "\n")


def jaccard(truth: np.ndarray, found: np.ndarray) -> float:
    return (truth & found).sum() / max((truth | found).sum(), 1)


def phantom_segmentation() -> None:
    """Segmentation against the rendered masks: the embedded default phantom set, and phantoms that all carry a ruler."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = read_manifest(write_phantom_dataset(Path(tmp) / "default", **DEFAULT_PHANTOMS))
        overlaps = [
            jaccard(read_mask(manifest.mask_file(row["mask_path"])), segment_lesion(read_rgb(manifest.image_file(row["image_path"]))))
            for _, row in manifest.table.iterrows()
        ]
    rulers = []
    for seed in range(36):  # every type and diagnosis, a ruler along one edge of each
        diagnosis = ("nevus", "melanoma", "seborrheic_keratosis", "vascular_lesion", "basal_cell_carcinoma", "dermatofibroma")[seed // 6]
        phantom = render_phantom(seed, 1 + seed % 6, diagnosis, 256, artefact_rates={"ruler": 1.0})
        rulers.append(jaccard(phantom.lesion_mask, segment_lesion(phantom.image)))
    print(f"Segmentation Jaccard: the {len(overlaps)} default phantoms mean {np.mean(overlaps):.3f}; {len(rulers)} phantoms with a "
          f"ruler mean {np.mean(rulers):.3f}, lowest {np.min(rulers):.2f}\n")


def real_checks() -> None:
    large, small = REAL / "isic2017_val98_1024px", REAL / "isic2017_256px_val_test"
    if not large.exists():
        print(f"real samples not found at {REAL}: skipped")
        return
    overlaps, differences, statuses = [], [], []
    for path in sorted((large / "images").glob("*.jpg")):
        truth = read_mask(large / "masks" / f"{path.stem}_segmentation.png")
        found = segment_lesion(read_rgb(path))
        overlaps.append(jaccard(truth, found))
        a, b = analyse_image(read_rgb(path)), analyse_image(read_rgb(small / "images" / path.name))
        statuses.append(a.status)
        if a.ita is not None and b.ita is not None:
            differences.append(abs(a.ita - b.ita))
    overlaps, differences = np.array(overlaps), np.array(differences)
    print(f"ISIC 2017 ({len(overlaps)} validation images, official masks): lesion segmentation Jaccard mean {overlaps.mean():.3f}, "
          f"median {np.median(overlaps):.3f}, below 0.5 for {np.sum(overlaps < 0.5)} images.")
    print(f"ITA of the 1024 px vs the 256 px copy: {len(differences)} measurable pairs, {np.mean(differences < 3):.1%} within 3°, "
          f"median difference {np.median(differences):.2f}°; statuses of the 1024 px copies: "
          + ", ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1200)
    args = parser.parse_args()
    phantom_table(args.n)
    phantom_segmentation()
    real_checks()


if __name__ == "__main__":
    main()
