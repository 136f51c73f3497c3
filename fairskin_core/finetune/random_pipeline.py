"""Stable Diffusion pipelines of the real classes with random weights, built from configs.

No Stable Diffusion weights can be had offline, yet the LoRA and textual-inversion code, the
tone transfer and the generation benchmark must run on the real diffusers classes. `tiny` is a
pipeline small enough to train a few steps on a CPU in seconds (tests, the Generate tab's
browser tests); `sd15` is the Stable Diffusion 1.5 architecture at full size (860 M UNet
parameters, 768-d CLIP ViT-L text encoder, 8× VAE) for timing on a GPU. Both use CLIP's real
tokenizer (`clip_vocabulary.py`) and are saved like a hub model, so every loader sees them as it
would see `stable-diffusion-v1-5/stable-diffusion-v1-5`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .clip_vocabulary import MAX_LENGTH, write_clip_tokenizer

ARCHITECTURES = {
    "tiny": {
        "unet": {"sample_size": 32, "block_out_channels": (32, 64), "layers_per_block": 1, "cross_attention_dim": 32,
                 "attention_head_dim": 4, "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
                 "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"), "norm_num_groups": 16},
        "vae": {"block_out_channels": (16, 32), "down_block_types": ("DownEncoderBlock2D",) * 2,
                "up_block_types": ("UpDecoderBlock2D",) * 2, "latent_channels": 4, "norm_num_groups": 16, "sample_size": 64},
        "text": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "projection_dim": 32},
    },
    "sd15": {
        "unet": {"sample_size": 64, "block_out_channels": (320, 640, 1280, 1280), "layers_per_block": 2, "cross_attention_dim": 768,
                 "attention_head_dim": 8, "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3},
        "vae": {"block_out_channels": (128, 256, 512, 512), "down_block_types": ("DownEncoderBlock2D",) * 4,
                "up_block_types": ("UpDecoderBlock2D",) * 4, "latent_channels": 4, "layers_per_block": 2, "sample_size": 512},
        "text": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12, "projection_dim": 768},
    },
}


def build_random_stable_diffusion(folder: str | Path, architecture: str = "tiny", seed: int = 0) -> Path:
    """Save a randomly initialised Stable Diffusion pipeline of ``architecture`` into ``folder``."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}: choose one of {', '.join(ARCHITECTURES)}")
    config = ARCHITECTURES[architecture]
    folder = Path(folder)
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tokenizer"))
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH, hidden_act="quick_gelu",
                                                **config["text"]))
    unet = UNet2DConditionModel(**config["unet"])
    vae = AutoencoderKL(**config["vae"], scaling_factor=0.18215)
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                              set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.save_pretrained(folder)
    return folder
