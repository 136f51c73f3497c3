"""A LoRA or textual-inversion run on Stable Diffusion, fully described by one JSON file.

The defaults are skin-diff's (Wang et al., MICCAI 2024: LoRA rank 8, alpha 8 on the four
attention projections) except the learning rate, where diffusers' LoRA script's 1e-4 converges
in the step counts a CPU or a single GPU affords (skin-diff: 5e-6 for 3,000 steps at 512 px).
Unknown fields are refused by name; the file is copied into the output folder, and a resumed
run must have the same config except the book-keeping fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..config_file import read_config_values
from ..diagnoses import DIAGNOSES
from ..fst import FST_TYPES
from .prompts import DEFAULT_TEMPLATE, check_template

METHODS = ("lora", "textual-inversion")
MIXED_PRECISION = ("no", "fp16", "bf16")
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_ENCODER_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
# Words a diagnosis token starts from (its embedding initialises the token's).
INITIALISER_WORDS = {"melanoma": "melanoma", "nevus": "mole", "basal_cell_carcinoma": "carcinoma",
                     "squamous_cell_carcinoma": "carcinoma", "actinic_keratosis": "keratosis", "seborrheic_keratosis": "keratosis",
                     "dermatofibroma": "nodule", "vascular_lesion": "vascular", "other": "lesion"}
BOOK_KEEPING = ("output_dir", "checkpoint_every", "keep_checkpoints", "log_every", "validation_every", "allow_download")


@dataclass
class FinetuneConfig:
    method: str  # lora | textual-inversion
    base: str  # hub id or local diffusers folder of the Stable Diffusion model
    manifest: str
    output_dir: str
    split: str = "train"  # manifest rows used; "" = every row
    fst: list[int] = field(default_factory=list)  # train on these skin types only ([] = all), e.g. [6] for one LoRA per type
    diagnoses: list[str] = field(default_factory=list)  # and these diagnoses only ([] = all)
    prompt_template: str = DEFAULT_TEMPLATE
    resolution: int = 512
    steps: int = 3000
    batch_size: int = 4
    learning_rate: float = 1e-4
    lr_warmup_steps: int = 0
    mixed_precision: str = "no"  # the accelerator's actual setting decides (see train.py); fp16 needs a GPU
    gradient_checkpointing: bool = False
    seed: int = 0
    dark_skin_oversampling: float = 1.5  # the FST × diagnosis resampling of `fairskin train` (training/sampler.py)
    augment: bool = True  # horizontal flips
    # LoRA.
    rank: int = 8
    alpha: float = 8.0
    targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    text_encoder: bool = False  # also a LoRA on the text encoder's attention projections
    # Textual inversion: one token per diagnosis, and optionally one per skin type.
    skin_type_tokens: bool = False
    # Tokens learned before (files or folders of `fairskin textual-inversion`) used in the prompts, frozen.
    textual_inversions: list[str] = field(default_factory=list)
    # Book-keeping (BOOK_KEEPING).
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    validation_every: int = 0  # 0 = no validation images
    validation_steps: int = 25  # sampling steps of a validation image
    allow_download: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            problems.append(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, not {self.mixed_precision!r}")
        for name in ("steps", "batch_size", "rank", "checkpoint_every", "keep_checkpoints", "log_every", "validation_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("lr_warmup_steps", "validation_every"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.resolution < 8 or self.resolution % 8:
            problems.append(f"resolution must be a multiple of 8 (Stable Diffusion's VAE halves the side 3 times), not {self.resolution}")
        if self.learning_rate <= 0 or self.alpha <= 0 or self.dark_skin_oversampling <= 0:
            problems.append("learning_rate, alpha and dark_skin_oversampling must be positive")
        unknown_fst = [f for f in self.fst if f not in FST_TYPES]
        if unknown_fst:
            problems.append(f"fst holds {unknown_fst}: Fitzpatrick types are 1 to 6")
        unknown_dx = [d for d in self.diagnoses if d not in DIAGNOSES]
        if unknown_dx:
            problems.append(f"diagnoses holds {unknown_dx}: the diagnoses are {', '.join(DIAGNOSES)}")
        unknown_targets = [t for t in self.targets if not t]
        if not self.targets or unknown_targets:
            problems.append("targets must name at least one UNet module, e.g. to_q,to_k,to_v,to_out.0")
        if not self.base or not self.manifest or not self.output_dir:
            problems.append("base, manifest and output_dir must be given")
        try:
            check_template(self.prompt_template)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("fine-tuning config: " + "; ".join(problems))

    @classmethod
    def from_file(cls, path: str | Path, **overrides: object) -> FinetuneConfig:
        """Read a JSON config; ``overrides`` (e.g. from the command line) win over the file."""
        values = read_config_values(cls, path, overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def weights_changed(self, other: dict) -> list[str]:
        """The fields, book-keeping aside, in which ``other`` (a saved config) differs from this one."""
        mine = self.to_dict()
        return sorted(k for k in {*mine, *other} if k not in BOOK_KEEPING and mine.get(k) != other.get(k))
