"""Is the physically based tone transfer any good, and how fast is it? Measured on real held-out photographs.

    python benchmarks/tone_transfer_quality.py [--n 120]

1. Quality: ``--n`` Fitzpatrick17k photographs of type I–II from the skin-type estimator's test split
   (never seen by the skin-optics fit, the estimator or our generator), each moved to type VI and to
   type V, measured with `fairskin_core.metrics.tone_transfer_quality` against the real type V–VI
   photographs of the same split; beside it the real floor (FID of one half of the real V–VI
   images against the other half).
2. A blinded study of real V–VI against transferred V–VI through `create_study`, as
   `fairskin study create` makes it (in a temporary workspace): how it matched, at what size, and
   the skin types the learned estimator measures on each arm's blinded images.
3. Speed on the 2 CPU cores: the transfer alone in memory, and `fairskin tone-transfer` as a whole
   (decode, transfer, measured type, PNG, manifest) on the 150 ISIC 2017 validation images.
4. A picture for the docs from ISIC 2017 dermoscopy (never Fitzpatrick17k: no consent for display).

Writes ``docs/tone_transfer_results.json`` and ``docs/images/tone-transfer-isic2017.jpg``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.generation.melanin_transfer import MelaninToneTransfer, NoSkinError, transfer_melanin
from fairskin_core.generation.tone_transfer import tone_transfer_set
from fairskin_core.images import read_rgb
from fairskin_core.importers import import_dataset
from fairskin_core.manifest import write_manifest
from fairskin_core.metrics.fid import fid
from fairskin_core.metrics.inception import load_inception
from fairskin_core.metrics.tone_transfer_quality import tone_transfer_quality
from fairskin_core.skin_type.estimator import MODEL_DIR, SPLIT_FILE
from review_data.store import ReviewStore
from review_data.study import create_study
from review_data.tone_comparison import compare_arm_tones

SHARED = REPO.parent / "shared" / "real_samples"
F17K = SHARED / "fitzpatrick17k_256px"
ISIC = SHARED / "isic2017_256px_val_test"
RESULTS = REPO / "docs" / "tone_transfer_results.json"
PICTURE = REPO / "docs" / "images" / "tone-transfer-isic2017.jpg"


def _held_out(n: int) -> tuple[list[str], list[str]]:
    split = pd.read_csv(MODEL_DIR / SPLIT_FILE, dtype=str)
    test = split[split["split"] == "test"]
    light = test[test["fitzpatrick_scale"].isin(["1", "2"])].sample(n, random_state=0)["md5hash"].tolist()
    return light, test[test["fitzpatrick_scale"].isin(["5", "6"])]["md5hash"].tolist()


def quality(n: int) -> dict:
    light, dark = _held_out(n)
    sources = [read_rgb(F17K / "images" / f"{md5}.jpg") for md5 in light]
    real = [read_rgb(F17K / "images" / f"{md5}.jpg") for md5 in dark]
    extractor = load_inception()
    rng = np.random.default_rng(0).permutation(len(real))
    halves = [extractor.extract([real[i] for i in part])[0] for part in np.array_split(rng, 2)]
    figures = {"sources": len(light), "real_v_vi": len(dark), "real_floor_fid_half_vs_half": round(fid(*halves), 2)}
    for target in (6, 5):
        results, refused = {}, {}
        for k, source in enumerate(sources):
            try:
                results[k] = transfer_melanin(source, target, seed=k)[0]
            except NoSkinError as exc:
                refused[light[k]] = str(exc)
        kept = sorted(results)
        figures[f"to_type_{target}"] = {"refused": refused, **tone_transfer_quality(
            [sources[k] for k in kept], [results[k] for k in kept], real, extractor)}
    return figures


def study(tmp: Path, n_sources: int) -> dict:
    """Real V–VI against transferred V–VI, blinded, through the same call as `fairskin study create`."""
    imported = import_dataset("fitzpatrick17k", F17K / "fitzpatrick17k.csv", F17K / "images", tmp / "f17k.csv").manifest
    table = pd.read_csv(imported, dtype=str, keep_default_na=False)
    split = pd.read_csv(MODEL_DIR / SPLIT_FILE, dtype=str).set_index("md5hash")["split"]
    test = table[table["image_id"].map(split) == "test"]
    write_manifest(test[test["fst"].isin(["5", "6"])], tmp / "real-v-vi.csv")
    write_manifest(test[test["fst"].isin(["1", "2"])].sample(n_sources, random_state=1), tmp / "light.csv")
    transferred = tone_transfer_set(MelaninToneTransfer(), tmp / "light.csv", tmp / "transferred", [5, 6])
    store = ReviewStore(tmp / "review.db")
    made = create_study(store, tmp / "studies", "real-vs-transferred", tmp / "real-v-vi.csv", transferred, n_per_arm=30, seed=0)
    shown = {arm: [(row["id"], made.folder / row["file"]) for row in store.db.execute(
        "SELECT id, file FROM study_images WHERE study_id = ? AND source = ?", [made.id, arm])] for arm in ("real", "synthetic")}
    tones = compare_arm_tones(shown)  # measured on the blinded images, as reviewers see them
    return {"n_per_arm": made.n_per_arm, "design": made.design, "shown": made.shown_size, "warnings": list(made.warnings),
            "tones_as_shown": tones.markdown_table(), "tones_sentence": tones.sentence()}


def speed(tmp: Path) -> dict:
    manifest = import_dataset("isic2017", ISIC / "ISIC-2017_Validation_Part3_GroundTruth.csv", ISIC / "images", tmp / "isic.csv").manifest
    images = [read_rgb(path) for path in sorted((ISIC / "images").glob("ISIC_*.jpg"))[:150]]
    transfer_melanin(images[0], 6, seed=0)  # the optics loaded
    started, refused = time.perf_counter(), 0
    for k, image in enumerate(images):
        try:
            transfer_melanin(image, 6, seed=k)
        except NoSkinError:
            refused += 1
    alone = len(images) / (time.perf_counter() - started)
    started = time.perf_counter()
    tone_transfer_set(MelaninToneTransfer(), manifest, tmp / "speed", [6])
    whole = 150 / (time.perf_counter() - started)
    return {"images": 150, "refused_no_skin": refused, "size_px": list(images[0].shape[:2]),
            "transfer_alone_images_per_s": round(alone, 1),
            "command_images_per_s": round(whole, 1),
            "command_includes": "decode, transfer, the learned estimator's type of every result, PNG, manifest after every 8"}


def picture() -> None:
    """Four ISIC 2017 validation images and each moved to types III, V and VI (seed 0), labelled."""
    files = sorted((ISIC / "images").glob("ISIC_*.jpg"))[10:14]
    rows = []
    for file in files:
        source = read_rgb(file)
        tiles = [source] + [transfer_melanin(source, target, seed=0)[0] for target in (3, 5, 6)]
        rows.append(np.concatenate([np.asarray(Image.fromarray(t).resize((256, 256))) for t in tiles], axis=1))
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    draw = ImageDraw.Draw(grid)
    for column, label in enumerate(("source", "to III", "to V", "to VI")):
        draw.rectangle([column * 256, 0, column * 256 + 70, 22], fill=(0, 0, 0))
        draw.text((column * 256 + 6, 5), label, fill=(255, 255, 255))
    PICTURE.parent.mkdir(exist_ok=True)
    grid.save(PICTURE, quality=88)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=120, help="held-out type I–II photographs transferred")
    parser.add_argument("--skip", nargs="*", default=[], choices=("quality", "study", "speed"),
                        help="parts to keep from the last run's results file (e.g. speed measured on a busy machine is redone alone)")
    args = parser.parse_args()
    for folder in (F17K, ISIC):
        if not folder.is_dir():
            print(f"needs the shared real samples at {folder}", file=sys.stderr)
            return 2
    results = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
               "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("FAIRSKIN_HOME", str(Path(tmp) / "home"))
        for name, measure in (("quality", lambda: quality(args.n)), ("study", lambda: study(Path(tmp), 60)),
                              ("speed", lambda: speed(Path(tmp)))):
            if name in args.skip:
                results[name] = json.loads(RESULTS.read_text())[name]  # kept from the last run
                continue
            results[name] = measure()
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")  # each part saved as soon as it is measured
    picture()
    print(json.dumps({k: v for k, v in results.items() if k != "study"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
