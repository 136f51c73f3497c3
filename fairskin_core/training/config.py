"""A training run, fully described by one JSON file (`fairskin train --config FILE`).

Every field has a default except the manifest and the output folder; unknown fields are
refused by name (a typo must not silently train with a default). The file is copied into the
model folder, so a model says exactly how it was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..config_file import read_config_values

MIXED_PRECISION = ("no", "fp16", "bf16")
CELL_LOSS_WEIGHTING = ("none", "inverse-frequency")
BETA_SCHEDULES = ("squaredcos_cap_v2", "linear", "scaled_linear")
PREDICTION_TYPES = ("epsilon", "v_prediction")
# May change on resume: the weights do not depend on them.
BOOK_KEEPING = ("output_dir", "checkpoint_every", "keep_checkpoints", "log_every")


@dataclass
class TrainConfig:
    manifest: str  # "" with `phantoms` set: train on that phantom set
    output_dir: str
    phantoms: dict | None = None  # {"n", "preset", "size", "seed"}: rendered into the workspace once, by `train`
    split: str = "train"  # manifest rows used; "" = every row
    image_size: int = 64  # pixels per side of the generated images
    vae: str = ""  # latent space: an AutoencoderKL folder or hub id (see latents.py); "" = pixel space
    # The denoiser (FSTConditionedUNet).
    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 64, 128])
    layers_per_block: int = 1
    patch_size: int = 1  # 2: the UNet sees 2 × 2 pixel blocks as channels (conditioned_unet.py): ~2.6× faster
    attention_levels: list[bool] = field(default_factory=lambda: [False, False, False, True])
    # Optimisation.
    steps: int = 2000
    batch_size: int = 32
    learning_rate: float = 2e-4
    lr_warmup_steps: int = 100
    ema_decay: float = 0.999
    mixed_precision: str = "no"  # fp16 on a GPU; bf16 on a GPU or a CPU with bf16 instructions
    seed: int = 0
    # Diffusion.
    noise_steps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "epsilon"  # what the UNet predicts: the noise, or v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho 2022)
    conditioning_dropout: float = 0.1  # chance of dropping each label: classifier-free guidance
    snr_gamma: float = 0.0  # min-SNR-γ loss weighting (Hang et al. 2023; 5 is their choice): faster convergence; 0 = plain MSE
    # Fairness-aware data (see sampler.py).
    dark_skin_oversampling: float = 2.0  # weight of each FST V–VI cell relative to other cells
    cell_loss_weighting: str = "none"
    diversity_weight: float = 0.0
    augment: bool = True  # flips and quarter turns: dermoscopy has no up
    # Book-keeping (BOOK_KEEPING).
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10

    def __post_init__(self) -> None:
        problems = []
        divisor = 2 ** (len(self.block_out_channels) - 1) * max(self.patch_size, 1)
        if self.image_size < 16 or self.image_size % divisor:
            problems.append(f"image_size {self.image_size} must be ≥ 16 and divisible by {divisor} "
                            "(patch_size × one halving per UNet level)")
        if len(self.attention_levels) != len(self.block_out_channels):
            problems.append(f"attention_levels needs {len(self.block_out_channels)} flags, one per entry of block_out_channels")
        for name in ("steps", "batch_size", "noise_steps", "checkpoint_every", "keep_checkpoints", "log_every", "layers_per_block",
                     "patch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.conditioning_dropout < 1:
            problems.append(f"conditioning_dropout must be in [0, 1), not {self.conditioning_dropout}")
        if self.snr_gamma < 0:
            problems.append(f"snr_gamma must be ≥ 0 (0 = off), not {self.snr_gamma}")
        if self.dark_skin_oversampling <= 0:
            problems.append(f"dark_skin_oversampling must be positive (1 = plain balance), "
                            f"not {self.dark_skin_oversampling}")
        for name, allowed in (("mixed_precision", MIXED_PRECISION), ("cell_loss_weighting", CELL_LOSS_WEIGHTING),
                              ("beta_schedule", BETA_SCHEDULES), ("prediction_type", PREDICTION_TYPES)):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not self.manifest and not self.phantoms:
            problems.append("give a manifest, or phantoms: {n, preset, size, seed} to train on a phantom set")
        if self.phantoms is not None and set(self.phantoms) != {"n", "preset", "size", "seed"}:
            problems.append(f"phantoms needs exactly n, preset, size and seed, not {sorted(self.phantoms)}")
        if problems:
            raise ValueError("training config: " + "; ".join(problems))

    @classmethod
    def from_file(cls, path: str | Path, **overrides: object) -> TrainConfig:
        """Read a JSON config; ``overrides`` (e.g. from the command line) win over the file."""
        values = read_config_values(cls, path, overrides)
        missing = sorted({"output_dir"} - set(values))
        if missing:
            raise ValueError(f"{path}: {' and '.join(missing)} must be given (in the file or on the command line)")
        return cls(**{"manifest": "", **values})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
