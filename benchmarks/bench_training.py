"""Training throughput of the FST-conditioned denoiser: pixel blocks and bf16 against the plain pixel UNet.

    python benchmarks/bench_training.py [--image-size 64] [--batch 32] [--steps 12]

Images per second of full optimizer steps (forward, loss, backward, AdamW) on random data, for
64 px output: the reference is the plain pixel-space UNet in fp32 (patch_size 1, the first
default model's shape, 3.8 M parameters); against it, the same output size denoised as 2 × 2
pixel blocks (patch_size 2, ~4 M parameters, the current default), each in fp32 and bf16
autocast. Same process, same data, the median of ``--repeats`` timings of ``--steps`` steps
after two warm-up steps. On a GPU the same table runs there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.diagnoses import DIAGNOSES
from fairskin_core.diffusion.conditioned_unet import FSTConditionedUNet

SHAPES = {
    "pixels (reference)": {"patch_size": 1, "block_out_channels": (32, 64, 96, 128), "attention_levels": (False, False, False, True)},
    "2 × 2 pixel blocks": {"patch_size": 2, "block_out_channels": (64, 96, 128), "attention_levels": (False, False, True)},
}


def images_per_second(model: FSTConditionedUNet, batch: int, steps: int, bf16: bool, device: str) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    size = model.config.sample_size
    x = torch.randn(batch, 3, size, size, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)
    labels = torch.randint(0, 7, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = F.mse_loss(model(x, t, labels, labels).float(), x)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.image_size} px output, batch {args.batch}, on {name}\n")
    print("| denoiser | parameters | precision | images/s | vs reference |")
    print("| --- | --- | --- | --- | --- |")
    reference = None
    for label, shape in SHAPES.items():
        torch.manual_seed(0)
        model = FSTConditionedUNet(sample_size=args.image_size, layers_per_block=1, diagnoses=DIAGNOSES[:6], **shape).to(device).train()
        parameters = sum(p.numel() for p in model.parameters()) / 1e6
        for bf16 in (False, True):
            rate = statistics.median(images_per_second(model, args.batch, args.steps, bf16, device) for _ in range(args.repeats))
            reference = reference or rate
            print(f"| {label} | {parameters:.1f} M | {'bf16' if bf16 else 'fp32'} | {rate:.1f} | {rate / reference:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
