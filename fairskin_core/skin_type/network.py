"""The skin-type network: EfficientNet-Lite0, its last blocks fine-tuned, pooled over skin, and an ordinal head.

The early blocks keep their ImageNet weights (edges, textures, colours are what any photograph
needs); the blocks from ``first_tuned`` on are fine-tuned on Fitzpatrick17k. The last feature map
is pooled twice — over the whole lit field, and over the cells that are healthy skin (the lesion
is not skin) — and, with the skin's median colour before and after colour balancing, goes into
the ordinal head. Training computes the frozen part once per image (`lower`) and trains the rest
(`upper`); estimating runs both, on the image and its mirror image, and averages.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .backbone import FEATURES, load_backbone, normalised
from .evidence import COLOUR_FEATURES, NETWORK_SIDE
from .ordinal import OrdinalHead


class SkinTypeNetwork(nn.Module):
    def __init__(self, first_tuned: int):
        super().__init__()
        backbone = copy.deepcopy(load_backbone(NETWORK_SIDE))  # its own copy: training changes it
        self.first_tuned = first_tuned
        self.stem = nn.Sequential(backbone._conv_stem, backbone._bn0, backbone._swish)
        self.frozen_blocks = nn.ModuleList(backbone._blocks[:first_tuned]).requires_grad_(False)
        self.tuned_blocks = nn.ModuleList(backbone._blocks[first_tuned:])
        self.last = nn.Sequential(backbone._conv_head, backbone._bn1, backbone._swish)
        self.head = OrdinalHead(2 * FEATURES + len(COLOUR_FEATURES))

    def tuned_state(self) -> dict[str, torch.Tensor]:
        """What training changed (the tuned blocks, the last convolution, the head): all a saved model holds."""
        return {name: value for name, value in self.state_dict().items() if not name.startswith(("stem.", "frozen_blocks."))}

    def lower(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen part, on N×3×H×W RGB floats 0–255."""
        x = self.stem(normalised(images))
        for block in self.frozen_blocks:
            x = block(x)
        return x

    def upper(self, x: torch.Tensor, skin_weights: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        """Ordinal logits (N×5) from the frozen part's output, the skin share per cell (N×G×G) and the skin colour (N×6)."""
        for block in self.tuned_blocks:
            x = block(x)
        maps = self.last(x)
        whole = maps.mean((2, 3))
        skin = (maps * skin_weights[:, None]).sum((2, 3)) / (skin_weights.sum((1, 2))[:, None] + 1e-6)
        return self.head.logits(torch.cat([skin, whole, colour], 1))

    def forward(self, images: torch.Tensor, skin_weights: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        return self.upper(self.lower(images), skin_weights, colour)

    def train(self, mode: bool = True) -> SkinTypeNetwork:
        """Batch-norm statistics stay ImageNet's even while training (a few thousand images cannot re-estimate them)."""
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self
