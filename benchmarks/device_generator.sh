#!/usr/bin/env bash
# Issue 26's GPU run, prepared as one call of the `device` tool (about 9 minutes of its 10).
#
# Here, once (the data and diffusers travel; the device has torch, accelerate, safetensors, pandas):
#   python benchmarks/device_generator.py pack --out .device/f17k-128.npz         # ~22 MB, the training split at 128 px
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl diffusers==0.42.1                   # both folders are git-ignored
# Then: run(command="bash benchmarks/device_generator.sh", carry=[".device", ".whl"], timeout_s=600)
#
# Back in $OUT (at most 8 files): log.txt (GPU, training, sampling), sd.txt (the 512 px Stable Diffusion benchmark,
# random weights), results.json, grid.jpg and the model as safetensors shards of at most 15 MiB.
set -uo pipefail
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
{
    nvidia-smi --query-gpu=name,memory.total --format=csv
    timeout 420 python3 benchmarks/device_generator.py run --data .device/f17k-128.npz --out "$OUT" --minutes 5
} 2>&1 | tail -60 > "$OUT/log.txt"
timeout 150 python3 benchmarks/bench_sd_generation.py --architecture sd15 2>&1 | tail -25 > "$OUT/sd.txt"
cat "$OUT/log.txt" "$OUT/sd.txt"
