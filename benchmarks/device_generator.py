"""The Fitzpatrick17k generator on a GPU: data carried as one compact file, trained to a time budget, sampled, timed.

    python benchmarks/device_generator.py pack --out .device/f17k-128.npz        # here: the training split, 128 px JPEGs
    python benchmarks/device_generator.py run --data .device/f17k-128.npz --out DIR --minutes 6   # there (device_generator.sh)

A device machine gets a 64 MiB working tree and gives back files of at most 16 MiB: the
training split travels as one ``.npz`` of JPEG bytes with its labels (about 25 MB at 128 px), and
the trained model comes back as safetensors shards under 15 MiB each.

``run`` unpacks the images into a manifest, times 20 steps of the model of
`fitzpatrick17k_generator.py` at 128 px (a UNet level more, bf16, batch 64), sets the number of
steps that fill ``--minutes``, trains, samples a grid of every type × diagnosis (DDIM 25 steps)
and times sampling in images/s. ``--smoke`` runs the same code in seconds on a CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairskin_core.images import read_rgb, square
from fairskin_core.manifest import read_manifest

SHARD_BYTES = 15 * 2**20
GRID_PER_CELL = 2


def pack(out: Path, size: int, workdir: Path) -> Path:
    """The training rows of `fitzpatrick17k_generator.py`'s manifest (prepared in ``workdir``) as one compact file."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from fitzpatrick17k_generator import prepare

    prepare(workdir)
    manifest = read_manifest(workdir / "manifest.csv", check_files="none")
    table = manifest.table[manifest.table["split"] == "train"]
    encoded = []
    for path, root in zip(table["image_path"], table["image_root"], strict=True):
        buffer = io.BytesIO()
        Image.fromarray(square(read_rgb(manifest.image_file(path, root)), size)).save(buffer, format="JPEG", quality=92)
        encoded.append(np.frombuffer(buffer.getvalue(), np.uint8))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, jpeg=np.concatenate(encoded), offsets=np.cumsum([0] + [len(e) for e in encoded]),
             fst=table["fst"].astype(int).to_numpy(), diagnosis=table["diagnosis"].to_numpy().astype(str),
             malignant=table["malignant"].map({True: "true", False: "false"}).fillna("").to_numpy().astype(str), size=size)
    return out


def _unpack(data: Path, folder: Path) -> Path:
    """The packed images as PNG files and a manifest in ``folder``."""
    from fairskin_core.manifest import write_manifest

    packed = np.load(data)
    jpeg, offsets = packed["jpeg"], packed["offsets"]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (fst, diagnosis, malignant) in enumerate(zip(packed["fst"], packed["diagnosis"], packed["malignant"], strict=True)):
        path = f"images/{k:05d}.jpg"
        (folder / path).write_bytes(jpeg[offsets[k]:offsets[k + 1]].tobytes())
        rows.append({"image_id": f"f17k-{k:05d}", "image_path": path, "diagnosis": str(diagnosis), "malignant": str(malignant),
                     "fst": int(fst), "fst_source": "annotated", "source": "real",
                     "dataset": "fitzpatrick17k", "split": "train"})
    write_manifest(pd.DataFrame(rows), folder / "manifest.csv")
    return folder / "manifest.csv"


def _config(manifest: Path, out: Path, size: int, steps: int, smoke: bool):
    from fairskin_core.training.config import TrainConfig

    return TrainConfig(manifest=str(manifest), output_dir=str(out), image_size=size,
                       block_out_channels=[32, 32] if smoke else [64, 96, 128, 192], layers_per_block=1, patch_size=2,
                       attention_levels=[False, True] if smoke else [False, False, True, True], steps=steps,
                       batch_size=4 if smoke else 64, learning_rate=3e-4, lr_warmup_steps=min(200, steps // 5),
                       mixed_precision="no" if smoke else "bf16", prediction_type="v_prediction", dark_skin_oversampling=1.5,
                       checkpoint_every=max(steps, 1), keep_checkpoints=1, log_every=5)


def _seconds_per_step(folder: Path) -> float:
    log = pd.read_csv(folder / "training_log.csv")
    return float(log["elapsed_s"].diff().iloc[1:].sum() / log["step"].diff().iloc[1:].sum())


def _shards(model: Path, out: Path) -> list[str]:
    """The model's weights as safetensors files of at most `SHARD_BYTES` each (what a device run can give back)."""
    from safetensors.torch import load_file, save_file

    weights = {}
    for file in sorted(model.rglob("*.safetensors")):
        weights.update({f"{file.parent.name}/{name}": tensor for name, tensor in load_file(file).items()})
    shards, current, size = [], {}, 0
    for name, tensor in weights.items():
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name], size = tensor.contiguous(), size + nbytes
    shards.append(current)
    names = []
    for number, shard in enumerate(shards):
        names.append(f"model-{number + 1:02d}-of-{len(shards):02d}.safetensors")
        save_file(shard, out / names[-1])
    return names


def run(data: Path, out: Path, minutes: float, smoke: bool) -> dict:
    from fairskin_core.generation.backends import load_backend
    from fairskin_core.training.train import train

    work = out.parent / f"{out.name}-work"
    manifest = _unpack(data, work / "data")
    size = int(np.load(data)["size"])
    started = time.perf_counter()
    train(_config(manifest, work / "probe", size, 20, smoke), resume=False)
    per_step = _seconds_per_step(work / "probe")
    steps = 20 if smoke else max(200, int(minutes * 60 / per_step))
    train(_config(manifest, work / "model", size, steps, smoke), resume=False)
    trained = time.perf_counter() - started
    backend = load_backend(str(work / "model"))
    fsts, diagnoses = list(range(1, 7)), sorted(set(np.load(data)["diagnosis"].astype(str)))
    cells = [(f, d) for f in fsts for d in diagnoses for _ in range(GRID_PER_CELL)]
    backend.generate([f for f, _ in cells[:4]], [d for _, d in cells[:4]], list(range(4)), steps=25, guidance=3.0, scheduler="ddim")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    begun = time.perf_counter()
    images = backend.generate([f for f, _ in cells], [d for _, d in cells], list(range(len(cells))), steps=25, guidance=3.0,
                              scheduler="ddim")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    sampling = len(cells) / (time.perf_counter() - begun)
    rows = [np.concatenate(list(images[r * len(diagnoses) * GRID_PER_CELL:(r + 1) * len(diagnoses) * GRID_PER_CELL]), axis=1)
            for r in range(len(fsts))]
    Image.fromarray(np.concatenate(rows, axis=0)).save(out / "grid.jpg", quality=90)
    results = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
               "image_size": size, "training_images": int(len(np.load(data)["fst"])), "seconds_per_step_probe": round(per_step, 4),
               "steps": steps, "batch": _config(manifest, work, size, steps, smoke).batch_size,
               "training_minutes_with_probe": round(trained / 60, 2), "sampling_images_per_s": round(sampling, 2),
               "grid": "rows types I-VI, columns " + ", ".join(f"{d} x{GRID_PER_CELL}" for d in diagnoses),
               "shards": _shards(work / "model", out)}
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("pack", "run"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="run: the packed file")
    parser.add_argument("--size", type=int, default=128, help="pack: image side in px")
    parser.add_argument("--minutes", type=float, default=6.0, help="run: training time to fill")
    parser.add_argument("--smoke", action="store_true", help="run: a seconds-long check of the same code on a CPU")
    args = parser.parse_args()
    if args.action == "pack":
        print(pack(args.out, args.size, args.out.parent / "prepared"))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.data, args.out, args.minutes, args.smoke), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
