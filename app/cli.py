"""The `fairskin` command line: one verb per user task, each a thin call into the libraries.

`main` reads the workspace from the environment once (`Workspace.from_environment`) and hands it to the verb as
``args.workspace``; a verb passes on the folder, cache or flag its library call needs."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from fairskin_core.errors import USER_MISTAKES, worded
from fairskin_core.workspace import Workspace

from .cli_downstream import add_downstream_verb
from .cli_finetune import add_finetune_verbs
from .cli_generate import add_generation_verbs
from .cli_skin_type import add_skin_type_verbs
from .cli_study import add_study_verbs
from .cli_types import option_name, seed


def _phantoms(args: argparse.Namespace) -> int:
    from fairskin_core.phantoms.dataset import write_phantom_dataset

    manifest = write_phantom_dataset(
        args.out, n=args.n, preset=args.preset, size=args.size, seed=args.seed, workers=args.workers, overwrite=args.overwrite
    )
    print(f"wrote {args.n} phantoms ({args.preset}, {args.size}px, seed {args.seed}) and {manifest}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from fairskin_core.importers import import_dataset

    metadata = args.metadata if len(args.metadata) > 1 else args.metadata[0]
    report = import_dataset(args.format, metadata, args.images, args.out, strict=args.strict)
    print(report.summary())
    return 0


def _manifest_check(args: argparse.Namespace) -> int:
    from fairskin_core.manifest import read_manifest
    from fairskin_core.summary import fst_categories

    manifest = read_manifest(args.manifest, check_files="header" if args.quick else "decode")
    table = manifest.table
    print(f"{args.manifest}: {len(table)} rows, all valid")
    print(f"  sources: {table['source'].value_counts().to_dict()}")
    print(f"  skin type: {fst_categories(table).value_counts().to_dict()}")
    print(f"  diagnoses: {table['diagnosis'].value_counts().to_dict()}")
    return 0


def _analysis_progress():
    """Images analysed so far, on one line of a terminal's stderr; nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda done, total: print(f"\ranalysed {done}/{total}", end="", file=sys.stderr, flush=True)


def _skin_tone_options(args: argparse.Namespace) -> dict:
    """The options `fairskin ita` and `fairskin ita calibrate` share, as keyword arguments of their library calls."""
    from fairskin_core.measurement_cache import MeasurementCache

    return {"split": args.split, "mappings": args.mapping, "use_masks": not args.no_masks, "workers": args.workers,
            "estimated_manifest": args.estimated_manifest, "progress": _analysis_progress(),
            "cache": MeasurementCache.of_workspace(args.workspace)}


def _print_skin_tone_run(run) -> None:
    """What both `fairskin ita` actions print after the file they exist for: the estimated manifest, the reports."""
    from fairskin_core.analysis.tone_report import format_skin_tone_report

    if run.estimated_manifest:
        print(f"wrote {run.estimated_manifest}: {run.n_estimated} images given their "
              f"ITA-estimated type ({run.mappings[0].name}, fst_source ita)")
    for name, report in (run.reports or {}).items():
        print("\n" + format_skin_tone_report(report, name))


def _ita_measure(args: argparse.Namespace) -> int:
    from fairskin_core.analysis.skin_tone import measure_skin_tone

    run = measure_skin_tone(args.manifest, args.out, report=args.report, **_skin_tone_options(args))
    print(f"wrote {run.out}: {len(run.table)} images, statuses {run.table['status'].value_counts().to_dict()}")
    _print_skin_tone_run(run)
    if run.report_path:
        print(f"\nwrote {run.report_path}")
    return 0


def _ita_calibrate(args: argparse.Namespace) -> int:
    from fairskin_core.analysis.skin_tone import calibrate_mapping

    run = calibrate_mapping(args.manifest, args.out, **_skin_tone_options(args))
    print(f"wrote {run.out}: thresholds (lower bounds of I-V) {', '.join(f'{t:.1f}' for t in run.calibrated.thresholds)} "
          f"from {run.n_calibration_images} images")
    _print_skin_tone_run(run)
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from fairskin_core.measurement_cache import MeasurementCache
    from fairskin_core.metrics.features import FeatureCache
    from fairskin_core.metrics.report import quality_report, summary_lines

    def progress(fraction: float, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {what:<60}", end="", file=sys.stderr, flush=True)

    workspace = args.workspace
    report, folder = quality_report(args.real, args.synthetic, args.out, overwrite=args.overwrite, weights=args.weights, seed=args.seed,
                                    workers=args.workers, progress=progress, feature_cache=FeatureCache.of_workspace(workspace),
                                    measurement_cache=MeasurementCache.of_workspace(workspace), allow_download=not workspace.offline)
    print("\n".join(summary_lines(report)))
    print(f"wrote {folder / 'report.json'}, {folder / 'report.html'} and per-image CSVs")
    return 0 if report["complete"] else 2


def _lpips(args: argparse.Namespace) -> int:
    from fairskin_core.metrics.lpips_distance import LpipsUnavailable, lpips_between

    try:
        distance, weights_id = lpips_between(args.image_a, args.image_b, net=args.net, allow_download=not args.workspace.offline)
    except LpipsUnavailable as exc:
        print(f"fairskin lpips: error: {exc}", file=sys.stderr)
        return 1
    print(f"Distance: {distance:.3f}")  # as the LPIPS authors' lpips_2imgs.py prints it
    print(f"weights: {weights_id}", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    from fairskin_core.training.config import TrainConfig
    from fairskin_core.training.train import train

    config = TrainConfig.from_file(args.config, manifest=args.manifest and str(args.manifest), output_dir=args.out and str(args.out),
                                   steps=args.steps)
    folder = train(config, resume=not args.restart, phantoms=args.workspace.folder("phantoms"), allow_download=not args.workspace.offline)
    print(f"trained {config.steps} steps; model, model card and training log in {folder}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve until stopped, then end the process at once.

    Background work (a generation, an experiment, the first start's defaults) runs inside torch on
    daemon threads: left to the interpreter's exit, torch's thread pools were torn down under them
    and the process aborted ("terminate called without an active exception") after a Ctrl-C.
    Everything they write is atomic and resumable, so they stop here as a kill would stop them."""
    from app.server import serve
    from app.settings import AppSettings

    try:
        serve(AppSettings.for_workspace(args.workspace), host=args.host, port=args.port, manifest=args.manifest,
              data_roots=args.data_root, root_path=args.root_path, forwarded_allow_ips=args.forwarded_allow_ips)
        code = 0
    except KeyboardInterrupt:  # Ctrl-C: uvicorn stopped serving, then raised it again
        code = 130
    print("fairskin serve: stopped; a generation still running stops with its saved images kept (Resume in its history "
          "finishes it)", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose sub-commands may have a default: `fairskin ita MANIFEST` is `fairskin ita measure MANIFEST`.

    ``default_command`` is taken when the first argument is neither a sub-command nor -h/--help."""

    def __init__(self, *args, default_command: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_command = default_command
        self.commands: argparse.Action | None = None

    def add_subparsers(self, **kwargs):
        self.commands = super().add_subparsers(**kwargs)
        return self.commands

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        if self.default_command and args and args[0] not in (*self.commands.choices, "-h", "--help"):
            args.insert(0, self.default_command)
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fairskin", description="Fair synthetic dermatology images: generate, review, measure.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    serve = verbs.add_parser(
        "serve", help="start the whole web app: review, review dashboard, data, studies, generation and quality (sign-in by role)",
        description="The web app: reviewers rate at http://HOST:PORT/ (the blinded review only); admins sign in at "
                    "http://HOST:PORT/admin/ (Data, Studies, Generate, Quality, Review dashboard). "
                    "The first start creates the demo study and prints its accounts.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    serve.add_argument("--manifest", type=Path,
                       help="the manifest the Data and Quality tabs open (default: the embedded phantom set); its folders become readable")
    serve.add_argument("--data-root", type=Path, nargs="+", action="extend", default=[], metavar="FOLDER",
                       help="folders admins may open manifests and images from: --data-root A B, or the flag repeated "
                            "(also $FAIRSKIN_DATA_ROOTS; the workspace always)")
    serve.add_argument("--root-path", default="", metavar="PREFIX",
                       help="behind a reverse proxy that serves the app under a prefix (e.g. /fairskin): that prefix (docs/deployment.md)")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="the reverse proxies whose X-Forwarded-For / -Proto headers are trusted, comma-separated (default 127.0.0.1)")
    serve.set_defaults(run=_serve)

    phantoms = verbs.add_parser("phantoms", help="render a phantom dermoscopy dataset with known ground truth")
    phantoms.add_argument("--n", type=int, required=True, help="number of images")
    # Checked by write_phantom_dataset, which names the presets: importing the renderer here would slow every verb's start.
    phantoms.add_argument("--preset", default="balanced", help="FST and diagnosis mix: ham10000, ddi or balanced (docs/phantoms.md)")
    phantoms.add_argument("--size", type=int, default=128, help="image side in pixels (32-2048)")
    phantoms.add_argument("--seed", type=seed, default=0, help="dataset seed: the same arguments give the same bytes")
    phantoms.add_argument("--out", type=Path, required=True, help="a new folder for images/, masks/ and manifest.csv")
    phantoms.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPU count, at most 8)")
    phantoms.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    phantoms.set_defaults(run=_phantoms)

    from fairskin_core.importers import FORMATS

    importer = verbs.add_parser("import", help="build a manifest from a public dataset's metadata")
    importer.add_argument("format", choices=FORMATS)
    importer.add_argument("metadata", nargs="+", type=Path, help="the metadata CSV (scin: scin_cases.csv scin_labels.csv)")
    importer.add_argument("--images", type=Path, nargs="+", required=True, help="folder(s) holding the dataset's images (never written to)")
    importer.add_argument("--out", type=Path, required=True, help="manifest to write (.csv or .parquet), in any folder")
    importer.add_argument("--strict", action="store_true", help="fail if any listed image is missing")
    importer.set_defaults(run=_import)

    manifest = verbs.add_parser("manifest", help="work with manifests")
    manifest_verbs = manifest.add_subparsers(dest="manifest_verb", required=True, metavar="ACTION")
    check = manifest_verbs.add_parser("check", help="validate every row and decode every image")
    check.add_argument("manifest", type=Path)
    check.add_argument("--quick", action="store_true", help="read image headers only, do not decode")
    check.set_defaults(run=_manifest_check)

    from fairskin_core.manifest import SPLITS

    ita = verbs.add_parser(
        "ita",
        default_command="measure",
        help="skin tone (ITA -> Fitzpatrick type, with confidence) and ABCD features of every image; calibrate ITA -> type thresholds",
        usage="fairskin ita [measure] MANIFEST --out CSV [--report] [options]\n"
              "       fairskin ita calibrate MANIFEST --out MAPPING.json [options]",
        description="Measure the skin tone of every image of a manifest (`measure`, the default: `fairskin ita MANIFEST` is "
                    "`fairskin ita measure MANIFEST`), or fit ITA -> Fitzpatrick thresholds to its annotated types (`calibrate`). "
                    "`fairskin ita ACTION --help` lists the options.",
    )
    ita_actions = ita.add_subparsers(dest="ita_action", required=True, metavar="ACTION", prog="fairskin ita")
    skin_tone = argparse.ArgumentParser(add_help=False)  # what both actions take
    skin_tone.add_argument("manifest", type=Path, metavar="MANIFEST", help="the manifest whose images are measured")
    skin_tone.add_argument("--mapping", nargs="+", default=["kinyanjui"], metavar="MAPPING",
                           help="ITA -> type mappings: kinyanjui (default), groh or a calibration JSON; the first gives fst_estimate "
                                "(and the estimated manifest's types), each one its fst_NAME column and report")
    skin_tone.add_argument("--split", choices=SPLITS, help="only the rows of this split")
    skin_tone.add_argument("--no-masks", action="store_true", help="segment lesions even where the manifest gives masks")
    skin_tone.add_argument("--estimated-manifest", type=Path, metavar="MANIFEST",
                           help="also write the manifest with the estimated type in every row that has none (fst_source ita)")
    skin_tone.add_argument("--workers", type=int, default=None, help="analysis processes (default: CPU count, at most 8)")
    measure = ita_actions.add_parser(
        "measure", parents=[skin_tone], help="the default: ITA, estimated type, confidence and ABCD features per image, as CSV",
        description="Skin tone (ITA -> Fitzpatrick type, with confidence) and ABCD features of every image of a manifest; every "
                    "image that cannot be measured gets a status saying why.",
    )
    measure.add_argument("--out", type=Path, required=True, help="the per-image CSV to write")
    measure.add_argument("--report", action="store_true",
                         help="print the distribution of ITA and estimated types, and agreement with annotated types "
                              "(exact, within one, kappa), per mapping; also write them to OUT.report.json")
    measure.set_defaults(run=_ita_measure)
    calibrate = ita_actions.add_parser(
        "calibrate", parents=[skin_tone], help="fit ITA -> type thresholds to a manifest with annotated types",
        description="Fit the five ITA thresholds (lower bounds of types I-V) that agree best with the manifest's annotated types, "
                    "save them as JSON (usable with --mapping), and print the report of every --mapping and the fitted one.",
    )
    calibrate.add_argument("--out", type=Path, required=True, help="the mapping JSON to write; its name is the file's stem")
    calibrate.set_defaults(run=_ita_calibrate)
    add_skin_type_verbs(verbs)

    metrics = verbs.add_parser("metrics", help="FID, KID, FID∞, IS, diversity, memorization, FST fidelity and ABCD realism, overall and "
                                          "per skin type, beside a real-versus-real floor")
    metrics.add_argument("--real", type=Path, required=True, help="manifest of the real images")
    metrics.add_argument("--synthetic", type=Path, required=True, help="manifest of the synthetic images")
    metrics.add_argument("--out", type=Path, required=True, help="a new folder for report.json, report.html and CSVs")
    metrics.add_argument("--weights", default="auto",
                         help="Inception weights: auto (default: pytorch-fid's file, else the TorchScript), pytorch-fid or torchscript")
    metrics.add_argument("--seed", type=seed, default=0, help="seed of the KID subsets, image pairs, real-floor halves and bootstraps")
    metrics.add_argument("--workers", type=int, default=None, help="image decoding and analysis processes (default: CPU count, at most 8)")
    metrics.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    metrics.set_defaults(run=_metrics)

    lpips = verbs.add_parser("lpips", help="LPIPS perceptual distance between two images of one size (as the authors' lpips_2imgs.py)")
    lpips.add_argument("image_a", type=Path, metavar="IMAGE_A")
    lpips.add_argument("image_b", type=Path, metavar="IMAGE_B")
    lpips.add_argument("--net", choices=["alex", "vgg"], default="alex", help="backbone: alex (default, the authors' choice) or vgg")
    lpips.set_defaults(run=_lpips)

    trainer = verbs.add_parser("train", help="train an FST × diagnosis conditioned diffusion model (accelerate: CPU, GPU, many GPUs)")
    trainer.add_argument("--config", type=Path, required=True, help="JSON run description (see docs/generation.md, Training)")
    trainer.add_argument("--manifest", type=Path, help="training manifest (overrides the config)")
    trainer.add_argument("--out", type=Path, help="model folder (overrides the config's output_dir)")
    trainer.add_argument("--steps", type=int, help="total optimiser steps (overrides the config)")
    trainer.add_argument("--restart", action="store_true", help="ignore checkpoints in --out and start from step 0")
    trainer.set_defaults(run=_train)

    add_generation_verbs(verbs)
    add_downstream_verb(verbs)
    add_finetune_verbs(verbs)

    add_study_verbs(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fairskin` console script; errors print one clear message, exit 1."""
    args = build_parser().parse_args(argv)
    args.workspace = Workspace.from_environment()  # the one reading of $FAIRSKIN_HOME & co. for this run
    try:
        return args.run(args)
    except USER_MISTAKES as exc:
        print(f"fairskin {args.verb}: error: {worded(exc, option_name)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fairskin {args.verb}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


def console() -> None:
    """The `fairskin` console script: `main`, then exit with its status.

    Before exiting, the objects of the run (torch's and diffusers' modules above all) are frozen out
    of the garbage collector: the interpreter's last collection would otherwise walk them all, which
    took 1.3 of the 1.6 s between the end of the work and the end of the process here.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    console()
