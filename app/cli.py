"""The `fairskin` command line: one verb per user task, each a thin call into the libraries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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

    manifest = read_manifest(args.manifest, check_files="header" if args.quick else "decode")
    table = manifest.table
    print(f"{args.manifest}: {len(table)} rows, all valid")
    print(f"  sources: {table['source'].value_counts().to_dict()}")
    from fairskin_core.summary import fst_categories

    print(f"  skin type: {fst_categories(table).value_counts().to_dict()}")
    print(f"  diagnoses: {table['diagnosis'].value_counts().to_dict()}")
    return 0


def _password(args: argparse.Namespace) -> str:
    """The password from standard input (one line), so it never shows in the shell's history."""
    if not args.password_stdin:
        raise ValueError("pass --password-stdin and type or pipe the password (it is never taken as an argument)")
    return sys.stdin.readline().rstrip("\n")


def _study_create(args: argparse.Namespace) -> int:
    from review_data.store import workspace_store, workspace_studies_dir
    from review_data.study import create_study

    study = create_study(
        workspace_store(), workspace_studies_dir(), args.name, args.real, args.synthetic,
        n_per_arm=args.n_per_arm, seed=args.seed, image_size=args.image_size, estimate_fst=args.estimate_fst,
    )
    print(f"created study {study.name}: {study.n_per_arm} real + {study.n_per_arm} synthetic images at {study.image_size} px in {study.folder}")
    print(f"  {study.design}")
    return 0


def _study_add_reviewer(args: argparse.Namespace) -> int:
    from review_data.store import workspace_store
    from review_data.study import add_reviewer

    add_reviewer(workspace_store(), args.name, args.username, _password(args))
    print(f"{args.username} now reviews study {args.name}")
    return 0


def _study_export(args: argparse.Namespace) -> int:
    from review_data.export import export_study
    from review_data.store import workspace_store

    for path in export_study(workspace_store(), args.name, args.out):
        print(f"wrote {path}")
    return 0


def _study_list(args: argparse.Namespace) -> int:
    from review_data.store import workspace_store
    from review_data.study import list_studies

    print("\n".join(list_studies(workspace_store())) or "no studies yet")
    return 0


def _admin_create(args: argparse.Namespace) -> int:
    from review_data.accounts import create_account
    from review_data.store import workspace_store

    create_account(workspace_store(), args.username, _password(args), "admin")
    print(f"admin account {args.username} created")
    return 0


def _ita(args: argparse.Namespace) -> int:
    import json

    from fairskin_core.analysis.estimated_fst import fill_estimated_fst
    from fairskin_core.analysis.fst_mapping import calibrate, load_mapping
    from fairskin_core.analysis.pipeline import analyse_manifest, with_mappings
    from fairskin_core.analysis.tone_report import format_skin_tone_report, skin_tone_report
    from fairskin_core.atomic import atomic_file
    from fairskin_core.manifest import read_manifest, write_manifest

    calibrating = args.target == "calibrate"
    path = args.manifest if calibrating else Path(args.target)
    if path is None:
        raise ValueError("usage: fairskin ita calibrate MANIFEST --out MAPPING.json")
    manifest = read_manifest(path)
    if args.split:
        manifest.table = manifest.table[manifest.table["split"] == args.split].reset_index(drop=True)
        if manifest.table.empty:
            raise ValueError(f"{path}: no rows with split {args.split!r}")
    mappings = [load_mapping(m) for m in args.mapping]
    progress = (lambda done, total: print(f"\ranalysed {done}/{total}", end="", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    table = analyse_manifest(manifest, mapping=mappings[0], use_masks=not args.no_masks, workers=args.workers, progress=progress)
    if calibrating:
        usable = table[(table["status"] == "ok") & table["fst"].notna()]
        if usable.empty:
            raise ValueError(f"{path}: no image with an annotated FST and a measured ITA to calibrate on")
        mapping = calibrate(usable["ita"].to_numpy(), usable["fst"].astype(int).to_numpy(), name=Path(args.out).stem)
        mapping.save(args.out)
        print(f"wrote {args.out}: thresholds (lower bounds of I-V) {', '.join(f'{t:.1f}' for t in mapping.thresholds)} "
              f"from {len(usable)} images")
        mappings.append(mapping)
    else:
        with atomic_file(args.out, "w", newline="", encoding="utf-8") as handle:
            with_mappings(table, mappings).to_csv(handle, index=False)
        statuses = table["status"].value_counts().to_dict()
        print(f"wrote {args.out}: {len(table)} images, statuses {statuses}")
    if args.estimated_manifest:
        folder = Path(args.estimated_manifest).parent
        estimated = fill_estimated_fst(manifest.relocated_table(folder), table["fst_estimate"])
        write_manifest(estimated, args.estimated_manifest)
        print(f"wrote {args.estimated_manifest}: {int((estimated['fst_source'] == 'ita').sum())} images given their "
              f"ITA-estimated type ({mappings[0].name}, fst_source ita)")
    if args.report or calibrating:
        reports = skin_tone_report(table, mappings)
        for name, report in reports.items():
            print("\n" + format_skin_tone_report(report, name))
        if not calibrating:
            report_path = Path(args.out).with_suffix(".report.json")
            with atomic_file(report_path, "w") as handle:
                json.dump(reports, handle, indent=2)
            print(f"\nwrote {report_path}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from fairskin_core.metrics.report import build_report, summary_lines, write_report

    def progress(fraction: float, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {what:<60}", end="", file=sys.stderr, flush=True)

    report, tables = build_report(args.real, args.synthetic, weights=args.weights, seed=args.seed, workers=args.workers, progress=progress)
    folder = write_report(report, tables, args.out, overwrite=args.overwrite)
    print("\n".join(summary_lines(report)))
    print(f"wrote {folder / 'report.json'}, {folder / 'report.html'} and per-image CSVs")
    return 0 if report["complete"] else 2


def _lpips(args: argparse.Namespace) -> int:
    from fairskin_core.metrics.lpips_distance import LpipsUnavailable, lpips_between

    try:
        distance, weights_id = lpips_between(args.image_a, args.image_b, net=args.net)
    except LpipsUnavailable as exc:
        print(f"fairskin lpips: error: {exc}", file=sys.stderr)
        return 1
    print(f"Distance: {distance:.3f}")  # as the LPIPS authors' lpips_2imgs.py prints it
    print(f"weights: {weights_id}", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    from fairskin_core.training.config import TrainConfig
    from fairskin_core.training.train import train

    config = TrainConfig.from_file(args.config, manifest=args.manifest and str(args.manifest), output_dir=args.out and str(args.out), steps=args.steps)
    folder = train(config, resume=not args.restart)
    print(f"trained {config.steps} steps; model, model card and training log in {folder}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    from fairskin_core.diagnoses import DIAGNOSES
    from fairskin_core.fst import FST_TYPES
    from fairskin_core.generation.backends import FSTModelBackend, StableDiffusionBackend
    from fairskin_core.generation.batch import diagnosis_mix_of, generate_set, merge_parts, parse_mix, plan_images, plan_per_cell

    state = PartialState()
    if args.stable_diffusion:
        backend = StableDiffusionBackend(args.stable_diffusion, device=str(state.device), allow_download=args.allow_download)
    else:
        backend = FSTModelBackend(args.model, device=str(state.device))
    diagnoses = backend.diagnoses or DIAGNOSES
    if args.fst is not None or args.diagnosis is not None:
        if args.fst is None or args.diagnosis is None or args.fst_mix or args.diagnosis_mix or args.diagnosis_mix_from or args.per_cell:
            raise ValueError("--fst and --diagnosis go together, without --fst-mix, --diagnosis-mix, --diagnosis-mix-from or --per-cell")
        fst_mix, diagnosis_mix = parse_mix(f"{args.fst}:1", FST_TYPES, "--fst"), parse_mix(f"{args.diagnosis}:1", diagnoses, "--diagnosis")
    else:
        if args.diagnosis_mix and args.diagnosis_mix_from:
            raise ValueError("give --diagnosis-mix or --diagnosis-mix-from, not both")
        fst_mix = parse_mix(args.fst_mix or ",".join(f"{t}:1" for t in FST_TYPES), FST_TYPES, "--fst-mix")
        diagnosis_mix = (diagnosis_mix_of(args.diagnosis_mix_from, diagnoses) if args.diagnosis_mix_from
                         else parse_mix(args.diagnosis_mix or ",".join(f"{d}:1" for d in diagnoses), diagnoses, "--diagnosis-mix"))
    if args.per_cell:
        plan = plan_per_cell(args.per_cell, sorted(fst_mix), sorted(diagnosis_mix), args.seed)
    elif args.n:
        plan = plan_images(args.n, fst_mix, diagnosis_mix, args.seed)
    else:
        raise ValueError("say how many images: --n N, or --per-cell K")

    def progress(done: int, total: int, rate: float) -> None:
        if state.is_local_main_process:
            print(f"\r{done} / {total} images ({rate:.2f} images/s on this process)", end="", file=sys.stderr, flush=True)

    generate_set(backend, plan, args.out, steps=args.steps, guidance=args.guidance, scheduler=args.scheduler, batch_size=args.batch_size,
                 process_index=state.process_index, num_processes=state.num_processes, progress=progress)
    state.wait_for_everyone()
    if state.is_main_process:
        manifest = merge_parts(args.out) if state.num_processes > 1 else Path(args.out) / "manifest.csv"
        print(f"\n{len(plan)} images by {backend.model_id} in {args.out}; manifest {manifest}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from app.main import serve

    serve(host=args.host, port=args.port, manifest=args.manifest, data_roots=args.data_root)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fairskin_core.phantoms.dataset import PRESETS

    parser = argparse.ArgumentParser(prog="fairskin", description="Fair synthetic dermatology images: generate, review, measure.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    serve = verbs.add_parser("serve", help="start the web app (review, data, studies, generation, quality) at http://127.0.0.1:7860")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--manifest", type=Path, help="open this manifest instead of the embedded phantom set")
    serve.add_argument("--data-root", type=Path, action="append", default=[], metavar="FOLDER",
                       help="a folder admins may open manifests and images from (repeatable; the workspace always)")
    serve.set_defaults(run=_serve)

    phantoms = verbs.add_parser("phantoms", help="render a phantom dermoscopy dataset with known ground truth")
    phantoms.add_argument("--n", type=int, required=True, help="number of images")
    phantoms.add_argument("--preset", choices=sorted(PRESETS), default="balanced", help="FST and diagnosis mix")
    phantoms.add_argument("--size", type=int, default=128, help="image side in pixels (32-2048)")
    phantoms.add_argument("--seed", type=int, default=0)
    phantoms.add_argument("--out", type=Path, required=True, help="a new folder for images/, masks/ and manifest.csv")
    phantoms.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPU count)")
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

    ita = verbs.add_parser(
        "ita",
        help="skin tone (ITA -> Fitzpatrick type, with confidence) and ABCD features of every image of a manifest",
        description="fairskin ita MANIFEST --out CSV [--report]  |  fairskin ita calibrate MANIFEST --out MAPPING.json",
    )
    ita.add_argument("target", metavar="MANIFEST|calibrate", help="the manifest to analyse, or `calibrate` followed by the manifest")
    ita.add_argument("manifest", nargs="?", type=Path, help=argparse.SUPPRESS)
    ita.add_argument("--out", type=Path, required=True, help="per-image CSV (analysis) or mapping JSON (calibrate)")
    ita.add_argument("--mapping", nargs="+", default=["kinyanjui"], help="kinyanjui, groh or a calibration JSON; several for --report")
    ita.add_argument("--report", action="store_true",
                     help="print the distribution of ITA and estimated types, and agreement with annotated types (exact, within one, kappa)")
    ita.add_argument("--split", choices=["train", "val", "test"], help="analyse only the rows of this split")
    ita.add_argument("--no-masks", action="store_true", help="segment lesions even where the manifest gives masks")
    ita.add_argument("--estimated-manifest", type=Path, metavar="MANIFEST",
                     help="also write the manifest with the estimated type in every row that has none (fst_source ita)")
    ita.add_argument("--workers", type=int, default=None)
    ita.set_defaults(run=_ita)

    metrics = verbs.add_parser("metrics", help="FID, KID, diversity, memorization, FST fidelity and ABCD realism per skin type")
    metrics.add_argument("--real", type=Path, required=True, help="manifest of the real images")
    metrics.add_argument("--synthetic", type=Path, required=True, help="manifest of the synthetic images")
    metrics.add_argument("--out", type=Path, required=True, help="a new folder for report.json, report.html and CSVs")
    metrics.add_argument("--weights", default="auto", help="Inception weights: auto (default), pytorch-fid or torchscript")
    metrics.add_argument("--seed", type=int, default=0)
    metrics.add_argument("--workers", type=int, default=None)
    metrics.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    metrics.set_defaults(run=_metrics)

    lpips = verbs.add_parser("lpips", help="LPIPS perceptual distance between two images of one size (as the authors' lpips_2imgs.py)")
    lpips.add_argument("image_a", type=Path, metavar="IMAGE_A")
    lpips.add_argument("image_b", type=Path, metavar="IMAGE_B")
    lpips.add_argument("--net", choices=["alex", "vgg"], default="alex", help="backbone: alex (default, the authors' choice) or vgg")
    lpips.set_defaults(run=_lpips)

    trainer = verbs.add_parser("train", help="train an FST × diagnosis conditioned diffusion model (accelerate: CPU, GPU, many GPUs)")
    trainer.add_argument("--config", type=Path, required=True, help="JSON run description (see docs/training.md)")
    trainer.add_argument("--manifest", type=Path, help="training manifest (overrides the config)")
    trainer.add_argument("--out", type=Path, help="model folder (overrides the config's output_dir)")
    trainer.add_argument("--steps", type=int, help="total optimiser steps (overrides the config)")
    trainer.add_argument("--restart", action="store_true", help="ignore checkpoints in --out and start from step 0")
    trainer.set_defaults(run=_train)

    generate = verbs.add_parser("generate", help="generate images for skin types and diagnoses, with a manifest (resumable)")
    generate.add_argument("--model", type=Path, help="a model folder from `fairskin train` (default: the shipped default model)")
    generate.add_argument("--stable-diffusion", metavar="ID_OR_FOLDER", help="use a diffusers Stable Diffusion pipeline instead")
    generate.add_argument("--allow-download", action="store_true", help="let --stable-diffusion fetch from the Hugging Face hub")
    generate.add_argument("--fst", type=int, help="one skin type, 1-6 (with --diagnosis)")
    generate.add_argument("--diagnosis", help="one diagnosis (with --fst)")
    generate.add_argument("--n", type=int, help="number of images")
    generate.add_argument("--fst-mix", help='weights per skin type, e.g. "1:1,2:1,3:1,4:1,5:2,6:2" (default: equal)')
    generate.add_argument("--diagnosis-mix", help='weights per diagnosis, e.g. "melanoma:1,nevus:1" (default: equal over the model\'s)')
    generate.add_argument("--diagnosis-mix-from", type=Path, metavar="MANIFEST",
                          help="the diagnosis mix of this manifest (e.g. your real training set; skin types not needed)")
    generate.add_argument("--per-cell", type=int, help="K images of every skin type × diagnosis pair of the mixes")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--steps", type=int, default=25)
    generate.add_argument("--guidance", type=float, default=3.0)
    generate.add_argument("--scheduler", default="ddim", help="ddim, dpm-solver, euler or ddpm")
    generate.add_argument("--batch-size", type=int, default=16)
    generate.add_argument("--out", type=Path, required=True, help="folder for images/ and manifest.csv (rerun to resume)")
    generate.set_defaults(run=_generate)

    study = verbs.add_parser("study", help="set up and export blinded clinician review studies")
    study_verbs = study.add_subparsers(dest="study_verb", required=True, metavar="ACTION")
    create = study_verbs.add_parser("create", help="sample N real + N synthetic images, matched on FST × diagnosis (or diagnosis alone where types are missing), and blind them")
    create.add_argument("--name", required=True)
    create.add_argument("--real", type=Path, required=True, help="manifest of the real arm")
    create.add_argument("--synthetic", type=Path, required=True, help="manifest of the synthetic arm")
    create.add_argument("--n-per-arm", type=int, default=50)
    create.add_argument("--seed", type=int, default=0)
    create.add_argument("--image-size", type=int, default=None, help="side in px (default: smallest image's short side, at most 512)")
    create.add_argument("--estimate-fst", action="store_true",
                        help="give images without a skin type their ITA-estimated one (recorded as fst_source ita) and match on it")
    create.set_defaults(run=_study_create)
    enrol = study_verbs.add_parser("add-reviewer", help="enrol a reviewer account (created if new) in a study")
    enrol.add_argument("--name", required=True, help="the study")
    enrol.add_argument("--username", required=True)
    enrol.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    enrol.set_defaults(run=_study_add_reviewer)
    export = study_verbs.add_parser("export", help="write ratings.csv (with the key), reviewer_summary.csv, study_summary.csv")
    export.add_argument("--name", required=True)
    export.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    export.set_defaults(run=_study_export)
    listing = study_verbs.add_parser("list", help="list the studies")
    listing.set_defaults(run=_study_list)

    admin = verbs.add_parser("admin", help="manage admin accounts")
    admin_verbs = admin.add_subparsers(dest="admin_verb", required=True, metavar="ACTION")
    admin_create = admin_verbs.add_parser("create", help="create an admin account (separate from reviewer accounts)")
    admin_create.add_argument("--username", required=True)
    admin_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin_create.set_defaults(run=_admin_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fairskin` console script; errors print one clear message, exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError) as exc:
        print(f"fairskin {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fairskin {args.verb}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
