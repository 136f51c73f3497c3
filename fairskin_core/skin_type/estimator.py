"""The learned skin-type estimator: the shipped model, applied to image files, cached by content.

`SkinTypeEstimator` loads a model folder (the one in this package by default: see its
model_card.md) — the fine-tuned part of the network in ``weights.safetensors`` and its settings
in ``estimator.json``, among them the temperature and the confidence below which a type is not
given. `estimate_files` turns files into records: the median type of the calibrated distribution
(the type that minimises the expected distance to the true one), its probability as the
confidence, all six probabilities, and a status; every refusal keeps its reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..hashing import file_sha256
from ..images import ImageFileError, read_rgb
from ..measurement_cache import MeasurementCache, content_key
from .evidence import Evidence, gather_evidence
from .network import SkinTypeNetwork
from .ordinal import N_TYPES

MODEL_DIR = Path(__file__).with_name("model")
WEIGHTS_FILE = "weights.safetensors"
SETTINGS_FILE = "estimator.json"
SPLIT_FILE = "split.csv"  # which training images were train, calibration and test
PROBABILITY_COLUMNS = tuple(f"p_fst{k}" for k in range(1, N_TYPES + 1))
LOW_CONFIDENCE = "low confidence"


class SkinTypeEstimator:
    """A trained model folder, ready to estimate (CPU, or ``device``)."""

    def __init__(self, folder: str | Path = MODEL_DIR, device: str | torch.device = "cpu"):
        folder = Path(folder)
        for name in (WEIGHTS_FILE, SETTINGS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder}: no {name}; a skin-type model folder is written by `fairskin skin-type train`")
        self.settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        self.network = SkinTypeNetwork(self.settings["first_tuned"])
        missing, unexpected = self.network.load_state_dict(
            {name: value.float() for name, value in load_file(folder / WEIGHTS_FILE).items()}, strict=False)
        untouched = [name for name in missing if not name.startswith(("stem.", "frozen_blocks."))]
        if untouched or unexpected:
            raise ValueError(f"{folder / WEIGHTS_FILE}: does not fit the network (missing {untouched[:3]}, unexpected {unexpected[:3]})")
        self.device = torch.device(device)
        self.network.to(self.device).eval()
        self.id = f"learned/{file_sha256(folder / WEIGHTS_FILE)[:16]}"

    @property
    def min_confidence(self) -> float:
        return float(self.settings["min_confidence"])

    def probabilities(self, evidence: Sequence[Evidence]) -> np.ndarray:
        """N×6 calibrated probabilities of types I–VI for images whose evidence is ok (mirror image averaged in)."""
        images = torch.as_tensor(np.stack([e.network_input for e in evidence]), device=self.device).permute(0, 3, 1, 2).float()
        weights = torch.as_tensor(np.stack([e.skin_weights for e in evidence]), device=self.device)
        colour = torch.as_tensor(np.stack([e.colour for e in evidence]), device=self.device)
        with torch.inference_mode():
            logits = (self.network(images, weights, colour) + self.network(images.flip(3), weights.flip(2), colour)) / 2
            return self.network.head.calibrated(logits).cpu().numpy()

    def record(self, probabilities: np.ndarray, skin_fraction: float) -> dict:
        """The record of one measured image: the median type, its probability, all six; unknown below `min_confidence`."""
        fst = int(np.searchsorted(np.cumsum(probabilities), 0.5) + 1)
        confidence = float(probabilities[fst - 1])
        confident = confidence >= self.min_confidence
        return {
            "status": "ok" if confident else LOW_CONFIDENCE,
            "message": "" if confident else (
                f"the most likely type, {fst}, has probability {confidence:.2f} (under {self.min_confidence:.2f}): not given"),
            "fst_estimate": fst if confident else None,
            "fst_confidence": round(confidence, 4),
            "skin_fraction": round(skin_fraction, 4),
            **{column: round(float(p), 4) for column, p in zip(PROBABILITY_COLUMNS, probabilities, strict=True)},
        }


def refusal(status: str, message: str, skin_fraction: float | None = None) -> dict:
    """The record of an image the estimator does not estimate, with the reason."""
    return {"status": status, "message": message, "fst_estimate": None, "fst_confidence": None, "skin_fraction": skin_fraction,
            **dict.fromkeys(PROBABILITY_COLUMNS)}


class EvidenceOfFiles(torch.utils.data.Dataset):
    """Files → `Evidence`, in DataLoader workers (decoding and skin selection are the slow, parallel part)."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, Evidence]:
        try:
            return i, gather_evidence(read_rgb(self.paths[i]))
        except ImageFileError as exc:
            return i, Evidence("unreadable", str(exc))


def estimate_files(
    paths: Sequence[str | Path],
    estimator: SkinTypeEstimator | None = None,
    *,
    cache: MeasurementCache | None = None,
    workers: int | None = None,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """One record per file, in order (see `SkinTypeEstimator.record` and `refusal`); cached by the file's SHA-256.

    ``cache``: where records are kept between runs (`MeasurementCache.of_workspace`: the workspace's); None (or False) for none.
    """
    estimator = estimator or default_estimator()
    paths = [Path(p) for p in paths]
    records: list[dict | None] = [None] * len(paths)
    keys: dict[int, str] = {}
    for i, path in enumerate(paths):
        try:
            keys[i] = content_key(file_sha256(path))
        except OSError as exc:
            records[i] = refusal("unreadable", f"{path}: cannot be read ({exc.strerror or exc})")
    hits = cache.get(keys.values(), estimator.id) if cache else {}
    todo = [i for i, key in keys.items() if key not in hits]
    for i, key in keys.items():
        if key in hits:
            records[i] = hits[key]
    done = len(paths) - len(todo)
    if progress:
        progress(done, len(paths))
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    loader = torch.utils.data.DataLoader(EvidenceOfFiles([paths[i] for i in todo]), batch_size=batch_size,
                                         num_workers=min(workers, -(-len(todo) // batch_size)), collate_fn=list)
    for batch in loader:
        new = dict(zip([todo[j] for j, _ in batch], _records(estimator, [e for _, e in batch]), strict=True))
        for i, record in new.items():
            records[i] = record
        if cache:
            cache.put({keys[i]: record for i, record in new.items()}, estimator.id)
        done += len(batch)
        if progress:
            progress(done, len(paths))
    return records


def _records(estimator: SkinTypeEstimator, evidence: Sequence[Evidence]) -> list[dict]:
    measured = [e for e in evidence if e.status == "ok"]
    probabilities = iter(estimator.probabilities(measured)) if measured else iter(())
    return [estimator.record(next(probabilities), e.skin_fraction) if e.status == "ok"
            else refusal(e.status, e.message, e.skin_fraction or None) for e in evidence]


def estimate_images(images: Sequence[np.ndarray], estimator: SkinTypeEstimator | None = None) -> list[dict]:
    """One record per image in memory (H×W×3 uint8), in order: images just made, not yet files."""
    return _records(estimator or default_estimator(), [gather_evidence(image) for image in images])


_DEFAULT: list[SkinTypeEstimator] = []


def default_estimator() -> SkinTypeEstimator:
    """The shipped model, loaded once per process."""
    if not _DEFAULT:
        _DEFAULT.append(SkinTypeEstimator())
    return _DEFAULT[0]
