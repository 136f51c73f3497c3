"""The downstream experiment's images: real training, validation and test sets, and the synthetic set.

Each set is one manifest's rows of one split, decoded once into memory at the classifier's size.
What would make the experiment dishonest is refused here, naming the rows: a test image that is
also a training or synthetic image (same id, or the same file bytes), synthetic rows in a real
set or real rows in the synthetic one, a label the task needs and a row lacks. Skin types may be
missing (real data rarely has them): they only decide the groups metrics are computed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import ParameterError
from ..fst import ESTIMATED_SOURCES
from ..hashing import file_sha256
from ..images import ImageFileError, read_rgb, square
from ..manifest import Manifest, read_manifest
from .settings import TASKS

REAL_SOURCES = ("real", "phantom")  # phantoms stand in for real images in the phantom world
VALIDATION_SHARE = 0.15  # drawn from the real training rows where the manifest has no `val` split


class DownstreamDataError(ParameterError):
    """A data set the experiment cannot use honestly; says which file, rows and why (naming the settings' parameters as
    ``{name}``, `ParameterError`)."""


@dataclass
class ImageSet:
    """Decoded images with what the metrics need about each."""

    name: str  # train, val, test, synthetic
    pixels: torch.Tensor  # N × 3 × S × S uint8
    label: np.ndarray  # N ints: 0/1 for malignant, the class index for diagnosis
    malignant: np.ndarray  # N bools: the fairness metrics are about finding malignancy
    fst: np.ndarray  # N floats, NaN where unknown
    fst_source: np.ndarray  # N strings ("" where unknown)
    image_id: np.ndarray
    files: list[Path]
    manifest_sha256: str

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, rows: np.ndarray, name: str) -> ImageSet:
        return ImageSet(name, self.pixels[torch.as_tensor(rows)], self.label[rows], self.malignant[rows], self.fst[rows],
                        self.fst_source[rows], self.image_id[rows], [self.files[i] for i in rows], self.manifest_sha256)


def _rows(manifest: Manifest, split: str) -> pd.DataFrame:
    """The manifest's rows of ``split`` ("" = every row)."""
    table = manifest.table
    if not split:
        return table
    chosen = table[table["split"] == split]
    if chosen.empty:
        present = ", ".join(sorted(set(table["split"]) - {""})) or "none"
        raise DownstreamDataError(f"{manifest.path}: no row has split {split!r} (splits present: {present}); "
                                  "choose another split, or '' for every row")
    return chosen


def _check_sources(manifest: Manifest, table: pd.DataFrame, allowed: tuple[str, ...], role: str) -> None:
    wrong = table[~table["source"].isin(allowed)]
    if len(wrong):
        first = wrong.index[0]
        fix, named = {"synthetic": ("give real images with {train} / {test}", ("train", "test")),
                      "oracle": ("the oracle adds back real images only (synthetic ones go in {synthetic})", ("synthetic",))}.get(
            role, ("give synthetic images with {synthetic}", ("synthetic",)))
        raise DownstreamDataError(
            f"{manifest.path}: {len(wrong)} row(s) of the {role} set have source {', '.join(sorted(set(wrong['source'])))}, "
            f"but it may hold only {' or '.join(allowed)} images (first: CSV line {first + 2}, image_id {wrong.loc[first, 'image_id']!r}); "
            + fix, *named)


def diagnosis_classes(table: pd.DataFrame) -> tuple[str, ...]:
    """The diagnosis task's classes: those of the real training rows, in a fixed order."""
    return tuple(sorted(set(table["diagnosis"])))


def _labels(manifest: Manifest, table: pd.DataFrame, task: str, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(task labels, malignant) of each row, or an error naming a row without them."""
    malignant = table["malignant"]
    unknown = malignant.isna()
    if unknown.any():
        first = table.index[unknown][0]
        raise DownstreamDataError(f"{manifest.path}: {int(unknown.sum())} row(s) have no 'malignant' value (first: CSV line "
                                  f"{first + 2}, image_id {table.loc[first, 'image_id']!r}); write true or false, or leave those rows out")
    if task == "malignant":
        return malignant.astype(int).to_numpy(), malignant.astype(bool).to_numpy()
    outside = ~table["diagnosis"].isin(classes)
    if outside.any():
        first = table.index[outside][0]
        raise DownstreamDataError(f"{manifest.path}: diagnosis {table.loc[first, 'diagnosis']!r} (CSV line {first + 2}) is not among "
                                  f"the training set's diagnoses ({', '.join(classes)}); a classifier cannot predict a class it never saw")
    return table["diagnosis"].map(classes.index).to_numpy(dtype=int), malignant.astype(bool).to_numpy()


def with_malignancy_of_training(synthetic: pd.DataFrame, train_rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Synthetic rows without a malignant value (a generated vascular lesion: the diagnosis alone does not say) take it from
    the real training rows of their diagnosis where those all agree; the notes say so. Others stay unknown and are refused."""
    table, notes = synthetic.copy(), []
    for diagnosis in sorted(set(table.loc[table["malignant"].isna(), "diagnosis"])):
        known = set(train_rows.loc[train_rows["diagnosis"] == diagnosis, "malignant"].dropna())
        if len(known) == 1:
            rows = table["malignant"].isna() & (table["diagnosis"] == diagnosis)
            value = known.pop()
            table.loc[rows, "malignant"] = value
            notes.append(f"{int(rows.sum())} synthetic {diagnosis} images have no malignant value; taken as "
                         f"{'malignant' if value else 'benign'}, as every {diagnosis} of the real training set is")
    return table, notes


def load_image_set(manifest: Manifest, table: pd.DataFrame, name: str, task: str, classes: tuple[str, ...], size: int) -> ImageSet:
    """Decode ``table``'s rows of ``manifest`` to ``size`` px squares (centre crop, as for training the generator)."""
    label, malignant = _labels(manifest, table, task, classes)
    files = [manifest.image_file(path, root) for path, root in zip(table["image_path"], table["image_root"], strict=True)]
    pixels = np.empty((len(table), size, size, 3), dtype=np.uint8)
    for position, (row, file) in enumerate(zip(table.index, files, strict=True)):
        try:
            pixels[position] = square(read_rgb(file), size)
        except ImageFileError as exc:
            raise DownstreamDataError(f"{manifest.path}: CSV line {row + 2}, field 'image_path': {exc}") from None
    return ImageSet(name, torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), label, malignant,
                    table["fst"].astype("Float64").to_numpy(dtype=float, na_value=np.nan), table["fst_source"].to_numpy(dtype=str),
                    table["image_id"].to_numpy(dtype=str), files, file_sha256(manifest.path))


def overlapping_test_images(test: ImageSet, other: ImageSet) -> dict[int, str]:
    """Test rows that are also ``other``'s images, by id or by identical bytes: row → what it is the same as."""
    found = {}
    ids = set(other.image_id)
    for row, image_id in enumerate(test.image_id):
        if image_id in ids:
            found[row] = f"{str(image_id)!r} (the same id is in the {other.name} set)"
    test_rows = {}
    for row, file in enumerate(test.files):
        test_rows.setdefault(file_sha256(file), []).append(row)
    for file, image_id in zip(other.files, other.image_id, strict=True):
        for row in test_rows.get(file_sha256(file), []):
            found.setdefault(row, f"{str(test.image_id[row])!r} (byte for byte {other.name} image {str(image_id)!r}: "
                                  f"{test.files[row]} = {file})")
    return found


def without_overlap(test: ImageSet, others: list[ImageSet], drop: bool) -> tuple[ImageSet, list[str]]:
    """The test set, refused if it shares an image with ``others`` — or with ``drop``, without those images (and a note naming them)."""
    found = {}
    for other in others:
        found.update({row: what for row, what in overlapping_test_images(test, other).items() if row not in found})
    if not found:
        return test, []
    first = found[min(found)]
    if not drop:
        raise DownstreamDataError(f"{len(found)} test image(s) were also seen in training (first: {first}); the test set must be "
                                  "images never seen in training — give disjoint sets, or let the experiment leave them out "
                                  "({drop_overlapping_test_images})", "drop_overlapping_test_images")
    kept = np.array([row for row in range(len(test)) if row not in found], dtype=int)
    listed = "; ".join(found[row] for row in sorted(found))
    return test.subset(kept, "test"), [f"{len(found)} test image(s) left out because training had seen them: {listed}"]


def validation_rows(train: ImageSet, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): a draw of `VALIDATION_SHARE` stratified by label × skin-type group."""
    rng = np.random.default_rng([seed, 7])
    groups = np.nan_to_num(np.ceil(train.fst / 2), nan=0).astype(int)  # 1: I-II, 2: III-IV, 3: V-VI, 0: unknown
    held = []
    for stratum in sorted(set(zip(train.label.tolist(), groups.tolist(), strict=True))):
        members = np.flatnonzero((train.label == stratum[0]) & (groups == stratum[1]))
        held.extend(rng.permutation(members)[: int(round(len(members) * VALIDATION_SHARE))].tolist())
    held = np.array(sorted(held), dtype=int)
    return np.setdiff1d(np.arange(len(train)), held), held


@dataclass
class ExperimentData:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    synthetic: ImageSet | None
    classes: tuple[str, ...]  # the diagnosis task's classes; () for malignant
    validation: str  # how the validation set was made, for the report
    fst_estimated_in_test: bool  # some test skin types are estimated from the image (learned or ITA), not annotated
    notes: list[str]  # what was inferred, for the report
    oracle: ImageSet | None = None  # real images added back by the oracle strategy


def load_experiment_data(
    train_manifest: str | Path,
    test_manifest: str | Path,
    synthetic_manifest: str | Path | None = None,
    *,
    oracle_manifest: str | Path | None = None,
    task: str = "malignant",
    size: int = 64,
    train_split: str = "train",
    val_split: str = "val",
    test_split: str = "test",
    seed: int = 0,
    allowed_roots: list[Path] | None = None,
    drop_overlapping_test_images: bool = False,
) -> ExperimentData:
    """Every set of one experiment, checked (module docstring). Validation comes from the real training manifest only:
    its ``val_split`` rows, or where it has none a stratified share of the training rows. ``allowed_roots`` (the web app):
    every manifest and image must lie inside these. A test image also seen in training is refused, or with
    ``drop_overlapping_test_images`` left out and named in the notes. The oracle's manifest (every row) may hold real images only."""
    if task not in TASKS:
        raise DownstreamDataError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    real = read_manifest(train_manifest, allowed_roots=allowed_roots)
    _check_sources(real, real.table, REAL_SOURCES, "training")
    train_rows = _rows(real, train_split)
    classes = diagnosis_classes(train_rows) if task == "diagnosis" else ()
    notes: list[str] = []
    train = load_image_set(real, train_rows, "train", task, classes, size)
    if val_split and (real.table["split"] == val_split).any() and val_split != train_split:
        val_rows = _rows(real, val_split)
        val = load_image_set(real, val_rows, "val", task, classes, size)
        validation = f"the training manifest's {val_split!r} rows"
    else:
        kept, held = validation_rows(train, seed)
        train, val = train.subset(kept, "train"), train.subset(held, "val")
        validation = f"{VALIDATION_SHARE:.0%} of the training rows, stratified by label and skin-type group (seed {seed})"
    tested = read_manifest(test_manifest, allowed_roots=allowed_roots)
    _check_sources(tested, tested.table, REAL_SOURCES, "test")
    test_rows = _rows(tested, test_split)
    test = load_image_set(tested, test_rows, "test", task, classes, size)
    synthetic = None
    if synthetic_manifest is not None:
        generated = read_manifest(synthetic_manifest, allowed_roots=allowed_roots)
        _check_sources(generated, generated.table, ("synthetic",), "synthetic")
        table, filled = with_malignancy_of_training(generated.table, train_rows)
        synthetic = load_image_set(generated, table, "synthetic", task, classes, size)
        notes.extend(filled)
    oracle = None
    if oracle_manifest is not None:
        added = read_manifest(oracle_manifest, allowed_roots=allowed_roots)
        _check_sources(added, added.table, REAL_SOURCES, "oracle")
        oracle = load_image_set(added, added.table, "oracle", task, classes, size)
    others = [s for s in (train, val, synthetic, oracle) if s is not None]
    test, dropped = without_overlap(test, others, drop_overlapping_test_images)
    notes.extend(dropped)
    if task == "malignant" and len(set(test.label)) < 2:
        raise DownstreamDataError(f"{tested.path}: every test image is {'malignant' if test.label[0] else 'benign'}; "
                                  "AUROC needs both — give a test set with malignant and benign images")
    return ExperimentData(train, val, test, synthetic, classes, validation, bool(np.isin(test.fst_source, ESTIMATED_SOURCES).any()), notes,
                          oracle)


def malignant_share(train: ImageSet, n_classes: int) -> np.ndarray:
    """Per diagnosis class, the share of its training images that are malignant: P(malignant) = Σ P(class) × share.
    (Most diagnoses fix malignancy; a vascular lesion or "other" takes the dataset's own labels.)"""
    return np.array([train.malignant[train.label == c].mean() if (train.label == c).any() else 0.0 for c in range(n_classes)])
