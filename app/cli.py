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
    print(f"  FST: {table['fst'].value_counts(dropna=False).sort_index().to_dict()}")
    print(f"  diagnoses: {table['diagnosis'].value_counts().to_dict()}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from app.main import serve

    serve(host=args.host, port=args.port, manifest=args.manifest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fairskin_core.phantoms.dataset import PRESETS

    parser = argparse.ArgumentParser(prog="fairskin", description="Fair synthetic dermatology images: generate, review, measure.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    serve = verbs.add_parser("serve", help="start the web app (Data tab) at http://127.0.0.1:7860")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--manifest", type=Path, help="open this manifest instead of the embedded phantom set")
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
    importer.add_argument("--images", type=Path, required=True, help="folder holding the dataset's images")
    importer.add_argument("--out", type=Path, required=True, help="manifest to write (.csv or .parquet); its folder must contain --images")
    importer.add_argument("--strict", action="store_true", help="fail if any listed image is missing")
    importer.set_defaults(run=_import)

    manifest = verbs.add_parser("manifest", help="work with manifests")
    manifest_verbs = manifest.add_subparsers(dest="manifest_verb", required=True, metavar="ACTION")
    check = manifest_verbs.add_parser("check", help="validate every row and decode every image")
    check.add_argument("manifest", type=Path)
    check.add_argument("--quick", action="store_true", help="read image headers only, do not decode")
    check.set_defaults(run=_manifest_check)
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
