"""The research plan's critical test (§4.3) in the phantom world, where every label is known.

Train on a HAM10000-like phantom set (4% FST V–VI), add a balanced synthetic set from the
shipped default model, test on a DDI-like phantom set (34% V–VI). `phantom_world` makes the
three manifests (each once: a rerun reuses them); `fairskin downstream --phantom-world` runs the
experiment on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..generation.generate import PlanRequest, generate_images
from ..phantoms.dataset import write_phantom_dataset

N_TRAIN, N_TEST, PER_CELL, SIZE = 2000, 600, 10, 64


@dataclass(frozen=True)
class PhantomWorld:
    train: Path
    test: Path
    synthetic: Path


def phantom_world(folder: str | Path, *, n_train: int = N_TRAIN, n_test: int = N_TEST, per_cell: int = PER_CELL, seed: int = 0,
                  progress=None) -> PhantomWorld:
    """The manifests of the critical test under ``folder``: ``train`` (ham10000 preset, seed+1), ``test`` (ddi preset, seed+2),
    ``synthetic`` (the default model, ``per_cell`` images of every FST × diagnosis pair, resumable)."""
    folder = Path(folder)
    manifests = {}
    for name, n, preset, offset in (("train", n_train, "ham10000", 1), ("test", n_test, "ddi", 2)):
        out = folder / f"{name}-{preset}-n{n}-s{seed + offset}"
        if not (out / "manifest.csv").is_file():
            if progress:
                progress(f"rendering {n} {preset}-like phantoms into {out}")
            write_phantom_dataset(out, n=n, preset=preset, size=SIZE, seed=seed + offset, overwrite=out.exists())
        manifests[name] = out / "manifest.csv"
    synthetic = folder / f"synthetic-default-model-{per_cell}-per-cell-s{seed + 3}"
    if progress:
        progress(f"generating {per_cell} images per skin type × diagnosis with the default model into {synthetic} (resumable)")
    made = generate_images(synthetic, PlanRequest(per_cell=per_cell, seed=seed + 3), batch_size=60)
    return PhantomWorld(manifests["train"], manifests["test"], Path(made.manifest))
