"""Latent-space training: the images encoded once by a pretrained `AutoencoderKL`.

For images larger than pixel-space training can afford, the denoiser learns the VAE's latents
instead (8× smaller per side with Stable Diffusion's VAE). The training set is encoded once,
like `data.py` decodes it once, and each step indexes into the latents. The posterior mean is
used: the VAE's posterior spread is tiny next to the diffusion noise. Flips and quarter turns
are applied to the latents, which a convolutional VAE maps almost exactly onto flipped images.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL

VAE_HINT = ("a local folder holding an AutoencoderKL (config.json + diffusion_pytorch_model.safetensors), "
            "a Stable Diffusion folder (its vae/ is used), or a hub id such as stabilityai/sd-vae-ft-mse "
            "(downloaded into the Hugging Face cache on first use; needs internet, and FAIRSKIN_OFFLINE unset)")


def load_vae(source: str, *, allow_download: bool = True) -> AutoencoderKL:
    """The AutoencoderKL named by ``source``: a folder, a pipeline folder with ``vae/``, or a hub id (fetched into the
    Hugging Face cache where ``allow_download``, else only found there)."""
    path = Path(source)
    if path.is_dir():
        folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
        if not (folder / "config.json").is_file():
            raise ValueError(f"vae {source!r}: no config.json in {folder}; give {VAE_HINT}")
        try:
            return AutoencoderKL.from_pretrained(folder).eval()
        except (OSError, ValueError) as exc:
            raise ValueError(f"vae {source!r}: {folder} could not be loaded as an AutoencoderKL ({exc})") from None
    try:
        return AutoencoderKL.from_pretrained(source, local_files_only=not allow_download).eval()
    except (OSError, ValueError) as exc:
        raise ValueError(f"vae {source!r}: not a folder here, and not loadable from the hub ({str(exc).splitlines()[0]}); "
                         f"give {VAE_HINT}") from None


@torch.inference_mode()
def encode_images(vae: AutoencoderKL, pixels: torch.Tensor, device: torch.device | str, batch_size: int = 32) -> torch.Tensor:
    """N × 3 × S × S uint8 images → N × C × S/f × S/f latents, scaled by the VAE's scaling factor (on the CPU)."""
    vae = vae.to(device)
    latents = []
    for start in range(0, len(pixels), batch_size):
        batch = pixels[start:start + batch_size].to(device).float() / 127.5 - 1
        latents.append(vae.encode(batch).latent_dist.mean.float().cpu() * vae.config.scaling_factor)
    return torch.cat(latents)
