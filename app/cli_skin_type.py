"""`fairskin skin-type`: estimate the skin type of every image of a manifest, or train the estimator (verbs of `app.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _progress(what: str):
    """Images done so far, on one line of a terminal's stderr; nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda done, total: print(f"\r{what} {done}/{total}", end="", file=sys.stderr, flush=True)


def _estimate(args: argparse.Namespace) -> int:
    from fairskin_core.measurement_cache import MeasurementCache
    from fairskin_core.skin_type.corrections import SkinTypeCorrections
    from fairskin_core.skin_type.manifest_estimates import estimate_skin_types, format_skin_type_report

    run = estimate_skin_types(args.manifest, args.out, method=args.method, split=args.split, report=args.report,
                              estimated_manifest=args.estimated_manifest, workers=args.workers, progress=_progress("estimated"),
                              cache=MeasurementCache.of_workspace(args.workspace),
                              corrections=SkinTypeCorrections.of_workspace(args.workspace))
    statuses = run.table["status"].value_counts().to_dict()
    print(f"wrote {run.out}: {len(run.table)} images ({run.method}), {int(run.table['fst_estimate'].notna().sum())} given a type; "
          f"statuses {statuses}")
    if run.estimated_manifest:
        print(f"wrote {run.estimated_manifest}: {run.n_estimated} images given their estimated type (fst_source {run.method}, "
              "with fst_confidence) or a corrected one")
    if run.report:
        print("\n" + format_skin_type_report(run.report) + f"\n\nwrote {run.report_path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from fairskin_core.skin_type.training import train_skin_type_estimator

    def progress(message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{message:<70}", end="", file=sys.stderr, flush=True)

    run = train_skin_type_estimator(args.fitzpatrick17k, args.out, epochs=args.epochs, seed=args.seed, progress=progress)
    print(f"\nwrote {run.folder}: {run.settings['images']} images per split, temperature {run.settings['temperature']:.2f}, "
          f"confidence threshold {run.settings['min_confidence']:.2f}, in {run.seconds / 60:.0f} min")
    print("measure it on the test split: python benchmarks/skin_type_accuracy.py --model " + str(run.folder))
    return 0


def _optics(args: argparse.Namespace) -> int:
    from fairskin_core.skin_optics.calibration import fit_skin_optics, save_skin_optics

    fitted = fit_skin_optics(args.fitzpatrick17k, workers=args.workers, per_type=args.per_type, progress=_progress("measured"))
    out = save_skin_optics(fitted, args.out)
    print(f"\nwrote {out}: melanin {fitted['basis']['melanin']}, haemoglobin {fitted['basis']['haemoglobin']}; {fitted['fitted_on']}")
    return 0


def add_skin_type_verbs(verbs) -> None:
    from fairskin_core.manifest import SPLITS
    from fairskin_core.skin_type.manifest_estimates import DEFAULT_METHOD, METHODS

    skin_type = verbs.add_parser(
        "skin-type", default_command="estimate",
        help="the Fitzpatrick skin type of every image (learned estimator or ITA), with confidence and the reason for any refusal",
        usage="fairskin skin-type [estimate] MANIFEST --out CSV [--method learned|ita] [--report] [options]\n"
              "       fairskin skin-type train --fitzpatrick17k FOLDER --out MODEL_FOLDER\n"
              "       fairskin skin-type optics --fitzpatrick17k FOLDER --out JSON",
        description="Estimate the skin type of every image of a manifest (`estimate`, the default), or train the learned estimator "
                    "on the shared Fitzpatrick17k copy (`train`), or fit the skin optics tone transfer uses (`optics`). "
                    "`fairskin skin-type ACTION --help` lists the options.",
    )
    actions = skin_type.add_subparsers(dest="skin_type_action", required=True, metavar="ACTION", prog="fairskin skin-type")
    estimate = actions.add_parser(
        "estimate", help="the default: fst_estimate, fst_confidence, method and status per image, as CSV",
        description="One row per image: image_id, fst_estimate, fst_confidence, method, status (and message: why a type is empty), "
                    "the annotated type where there is one, and the learned method's six probabilities or the ITA.",
    )
    estimate.add_argument("manifest", type=Path, metavar="MANIFEST", help="the manifest whose images are estimated")
    estimate.add_argument("--out", type=Path, required=True, help="the per-image CSV to write")
    estimate.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                          help="learned (default: the most accurate on annotated photographs) or ita (Kinyanjui's ITA thresholds)")
    estimate.add_argument("--report", action="store_true",
                          help="print the estimated types, refusals by reason and agreement with annotated types (exact, within one, "
                               "kappa, confusion); also write them to OUT.report.json")
    estimate.add_argument("--split", choices=SPLITS, help="only the rows of this split")
    estimate.add_argument("--estimated-manifest", type=Path, metavar="MANIFEST",
                          help="also write the manifest with the estimated type in every row that has none (fst_source learned or "
                               "ita, with fst_confidence; corrected types as fst_source corrected); annotated rows are left as they are")
    estimate.add_argument("--workers", type=int, default=None, help="image-reading processes")
    estimate.set_defaults(run=_estimate)
    train = actions.add_parser(
        "train", help="train the learned estimator on the shared Fitzpatrick17k copy (about 20 min on two CPU cores)",
        description="Split the Fitzpatrick17k folder (grouped by near-duplicates, stratified; recorded in split.csv), fine-tune "
                    "EfficientNet-Lite0's last blocks with an ordinal head on both annotators' types, calibrate on held-out images "
                    "and write the model folder (weights.safetensors, estimator.json, split.csv).",
    )
    train.add_argument("--fitzpatrick17k", type=Path, required=True, metavar="FOLDER",
                       help="the shared copy: fitzpatrick17k.csv, near_duplicates_dhash.csv and images/")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL_FOLDER", help="the model folder to write")
    train.add_argument("--epochs", type=int, default=6)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)
    optics = actions.add_parser(
        "optics", help="fit melanin and haemoglobin vectors and each type's real skin colour (what tone transfer aims at)",
        description="Optical density of healthy skin in the estimator's training photographs of the Fitzpatrick17k copy: the melanin "
                    "vector (density change per skin type), the haemoglobin vector (independent component analysis), and per type "
                    "the skin colours a transfer takes as targets (fairskin_core/skin_optics/calibration.py). About a minute.",
    )
    optics.add_argument("--fitzpatrick17k", type=Path, required=True, metavar="FOLDER", help="the shared copy (its images/ folder)")
    optics.add_argument("--out", type=Path, required=True, metavar="JSON",
                        help="the file to write (the shipped one: fairskin_core/skin_optics/skin_types.json)")
    optics.add_argument("--workers", type=int, default=2, help="image-reading processes")
    optics.add_argument("--per-type", type=int, metavar="N", help="a quick fit on N training photographs of each type (default: all)")
    optics.set_defaults(run=_optics)
