"""Time to generate 8 images with a trained model, per scheduler, against the denoiser's own floor.

    python benchmarks/bench_generation.py [--model fairskin_core/default_model] [--repeats 3]

For each sampler setting, the median of ``--repeats`` runs of `FSTDiffusionPipeline` making 8
images (skin type VI, melanoma, guidance 3: 16 rows per UNet call). The reference, in the same
run, is the floor any sampler pays: the same number of UNet forward passes on a batch of 16,
with nothing else (no scheduler, no guidance arithmetic, no decoding). Target on the 2-core
CPU: 8 images in ≤ 10 s with DDIM or DPM-Solver at ≤ 25 steps. On a GPU it also reports
batch throughput (images/s at batch 64), the figure `fairskin generate` logs at scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.diffusion.model_folder import DEFAULT_MODEL
from fairskin_core.diffusion.model_loading import load_model


def median_seconds(repeats: int, run, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample(pipeline, n: int, steps: int, scheduler: str) -> None:
    pipeline([6] * n, ["melanoma"] * n, list(range(n)), steps=steps, scheduler=scheduler)


@torch.inference_mode()
def unet_floor(unet, size: int, steps: int, device: str) -> None:
    """``steps`` forward passes on 16 rows (8 images × conditioned and unconditioned), nothing else."""
    batch = torch.randn(16, unet.config.in_channels, size, size, device=device)
    labels = torch.ones(16, dtype=torch.long, device=device)
    for t in range(steps):
        unet(batch, torch.tensor(t * 40, device=device), labels, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipeline = load_model(args.model, device=device)
    unet, size = pipeline.unet, pipeline.unet.config.sample_size
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"model {args.model} ({sum(p.numel() for p in unet.parameters()) / 1e6:.1f} M parameters, {pipeline.image_size} px) on {name}\n")
    print("| sampler | steps | 8 images, s | UNet floor, s | time vs floor |")
    print("| --- | --- | --- | --- | --- |")
    for scheduler, steps in (("ddim", 25), ("dpm-solver", 20), ("ddim", 50)):
        seconds = median_seconds(args.repeats, sample, pipeline, 8, steps, scheduler)
        reference = median_seconds(args.repeats, unet_floor, unet, size, steps, device)
        print(f"| {scheduler} | {steps} | {seconds:.2f} | {reference:.2f} | {seconds / reference:.2f}× |")
    if device == "cuda":
        seconds = median_seconds(args.repeats, sample, pipeline, 64, 25, "ddim")
        print(f"\nbatch of 64, DDIM 25 steps on {name}: {64 / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
