"""What our model's training and the fine-tuning share of a resumable run: which checkpoint to resume from.

Both write `checkpoints/step-NNNNNN/` into the run folder and record there the step, the cells drawn
so far and the config; what else a checkpoint holds differs (accelerate's whole state with the EMA
for our model, only the trainable adapter weights and the optimiser for a fine-tune).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from ..errors import ParameterError


def checkpoint_to_resume(out: Path, resume: bool, main_process: bool = True) -> Path | None:
    """The latest checkpoint of run folder ``out`` when resuming; without ``resume`` none, and the old ones deleted."""
    found = sorted((out / "checkpoints").glob("step-*")) if resume else []
    if not resume and main_process and (out / "checkpoints").exists():
        shutil.rmtree(out / "checkpoints")
    return found[-1] if found else None


def refuse_another_config(checkpoint: Path, changed: list[str], how_to_restart: str) -> None:
    """Resuming a run with another config would mix two runs in one model: refused, naming what changed.

    ``how_to_restart`` may name ``{resume=False}``, the argument that starts the run again from step 0 (a
    `ParameterError`: the command line says its option, --restart)."""
    if changed:
        raise ParameterError(f"{checkpoint}: saved by a run with another config (changed: {', '.join(changed)}); "
                             f"resume with the same config, {how_to_restart}train into a new folder", "resume=False")


def cells_drawn(state: dict) -> Counter:
    """The (skin type, diagnosis) cells drawn so far, as a checkpoint's state records them."""
    return Counter({(fst, diagnosis): n for fst, diagnosis, n in state["drawn"]})
