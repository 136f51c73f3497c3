"""`fairskin lora` and `fairskin textual-inversion`: fine-tune Stable Diffusion on a manifest (verbs of `app.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fairskin_core.finetune.config import FinetuneConfig

from .cli_types import seed


def _list_of(kind):
    def parse(text: str) -> list:
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {kind.__name__}s") from None
    return parse


def _finetune(args: argparse.Namespace) -> int:
    from fairskin_core.finetune.train import finetune

    overrides = {
        "method": args.method, "base": args.base, "manifest": args.manifest and str(args.manifest),
        "output_dir": args.out and str(args.out),
        "split": args.split, "fst": args.fst, "diagnoses": args.diagnoses, "prompt_template": args.prompt_template,
        "resolution": args.resolution, "steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "lr_warmup_steps": args.lr_warmup_steps, "mixed_precision": args.mixed_precision, "seed": args.seed,
        "gradient_checkpointing": args.gradient_checkpointing or None, "validation_every": args.validation_every,
        "validation_steps": args.validation_steps,
        "checkpoint_every": args.checkpoint_every, "allow_download": args.allow_download or None,
        "textual_inversions": args.textual_inversion and [str(p) for p in args.textual_inversion],
    }
    if args.method == "lora":
        overrides.update(rank=args.rank, alpha=args.alpha, targets=args.targets, text_encoder=args.text_encoder or None)
    else:
        overrides.update(skin_type_tokens=args.skin_type_tokens or None)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.config:
        config = FinetuneConfig.from_file(args.config, **overrides)
    else:
        missing = [f"--{flag}" for flag, key in (("base", "base"), ("manifest", "manifest"), ("out", "output_dir")) if key not in overrides]
        if missing:
            raise ValueError(f"give {', '.join(missing)} (or --config FILE with them)")
        config = FinetuneConfig(**overrides)
    folder = finetune(config, resume=not args.restart)
    what = "LoRA weights (pytorch_lora_weights.safetensors)" if args.method == "lora" else "one token file per learned token"
    print(f"trained {config.steps} steps on {config.base}; {what}, finetune_config.json and fairskin_finetune.json in {folder}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="Stable Diffusion model: a hub id (stable-diffusion-v1-5/stable-diffusion-v1-5) or a local folder")
    parser.add_argument("--manifest", type=Path, help="training manifest (every row needs a skin type and a diagnosis)")
    parser.add_argument("--out", type=Path, help="output folder (checkpoints go there too; an interrupted run resumes)")
    parser.add_argument("--config", type=Path, help="JSON run description (docs/stable_diffusion.md); the options here override it")
    parser.add_argument("--split", help="manifest rows used (default train; '' = every row)")
    parser.add_argument("--fst", type=_list_of(int), help="train on these skin types only, e.g. 6 or 5,6 (one LoRA per type)")
    parser.add_argument("--diagnoses", type=_list_of(str), help="train on these diagnoses only, e.g. melanoma,nevus")
    parser.add_argument("--prompt-template", help="default: 'dermoscopy image of {diagnosis} on Fitzpatrick type {fst} ({fst_word}) skin'")
    parser.add_argument("--resolution", type=int, help="training size in pixels (default 512; a multiple of 8)")
    parser.add_argument("--steps", type=int, help="optimiser steps (default 3000)")
    parser.add_argument("--batch-size", type=int, help="images per step over all processes (default 4)")
    parser.add_argument("--learning-rate", type=float, help="default 1e-4")
    parser.add_argument("--lr-warmup-steps", type=int)
    parser.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"),
                        help="under `accelerate launch --mixed_precision X` the launcher's setting wins")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations: less GPU memory, about 20%% slower")
    parser.add_argument("--seed", type=seed)
    parser.add_argument("--validation-every", type=int, help="save one image per cell, with its measured ITA, every K steps (0 = never)")
    parser.add_argument("--validation-steps", type=int, help="sampling steps of a validation image (default 25)")
    parser.add_argument("--checkpoint-every", type=int, help="default 500")
    parser.add_argument("--textual-inversion", type=Path, action="append",
                        help="tokens learned before (a file or a `fairskin textual-inversion` folder), used in the prompts; repeatable")
    parser.add_argument("--allow-download", action="store_true", help="let --base fetch from the Hugging Face hub")
    parser.add_argument("--restart", action="store_true", help="ignore checkpoints in --out and start from step 0")


def add_finetune_verbs(verbs) -> None:
    lora = verbs.add_parser("lora", help="train a LoRA of Stable Diffusion on a manifest (peft; stock load_lora_weights loads it)")
    _common(lora)
    lora.add_argument("--rank", type=int, help="LoRA rank r (default 8)")
    lora.add_argument("--alpha", type=float, help="LoRA alpha (default 8)")
    lora.add_argument("--targets", type=_list_of(str), help="UNet modules (default to_q,to_k,to_v,to_out.0)")
    lora.add_argument("--text-encoder", action="store_true", help="also train a LoRA on the text encoder")
    lora.set_defaults(run=_finetune, method="lora")
    inversion = verbs.add_parser("textual-inversion", help="learn one new token per diagnosis (and skin type) for Stable Diffusion "
                                                           "(stock diffusers load_textual_inversion loads each)")
    _common(inversion)
    inversion.add_argument("--skin-type-tokens", action="store_true", help="also one token per skin type")
    inversion.set_defaults(run=_finetune, method="textual-inversion")
