"""Melanin and haemoglobin vectors, and what real skin of each Fitzpatrick type looks like, from annotated photographs.

Fitted to the training split of the skin-type estimator (`fairskin_core/skin_type/model/split.csv`)
of the shared Fitzpatrick17k copy, so the images it is later checked on were never seen:

- **melanin**: the change of healthy skin's median optical density per skin type (least squares
  over images, the type the mean of the two annotators'). It carries the lightness that goes
  with melanin in photographs, not only its hue.
- **haemoglobin**: independent component analysis of the density of every lit pixel (skin and
  lesion, glare excluded) around its image's skin, on types I–III where blood shows most, in the
  plane that shading cannot move (Tsumura et al. 2003): of the two components, the one further
  from melanin, signed to absorb green (haemoglobin's absorption peaks at 540–580 nm).
- **per type**: every training image's healthy-skin median density (the references a transfer
  draws its target from: the middle fifth of each type by mean density — skin colour in
  photographs overlaps so much between types III–VI that a wider band makes a "type VI" target
  as light as a type III one, and a mislabelled or badly exposed photograph is never a target)
  and the spread of haemoglobin within an image (10th to 90th percentile).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import FastICA

from ..analysis.artefacts import glare
from ..atomic import atomic_file
from ..images import read_rgb
from ..skin_type.estimator import MODEL_DIR, SPLIT_FILE
from ..skin_type.evidence import find_skin
from ..skin_type.fitzpatrick17k_split import LABELS_FILE
from .density import ChromophoreBasis, srgb_to_density

PIXELS_PER_IMAGE = 300  # lit pixels per image for the independent component analysis
HAEMOGLOBIN_TYPES = (1, 2, 3)
REFERENCE_PERCENTILES = (40, 60)  # a type's targets: its photographs in this band of skin darkness (types overlap outside it)


def _measure_image(path: Path) -> dict | None:
    """Skin median density and a seeded sample of lit pixels' density of one photograph; None without skin."""
    found = find_skin(read_rgb(path))
    if found.status != "ok":
        return None
    density = srgb_to_density(found.small)
    lit = density[found.field & ~glare(found.lab)]
    sample = lit[np.random.default_rng(0).choice(len(lit), min(PIXELS_PER_IMAGE, len(lit)), replace=False)]
    return {"skin": np.median(density[found.skin], axis=0), "lit": sample}


def _haemoglobin_vector(deviations: np.ndarray, melanin: np.ndarray) -> np.ndarray:
    shading = np.ones(3) / np.sqrt(3)
    plane = np.linalg.svd(np.eye(3) - np.outer(shading, shading))[0][:, :2]  # two axes shading cannot move
    ica = FastICA(2, whiten="unit-variance", random_state=0).fit((deviations - np.outer(deviations @ shading, shading)) @ plane)
    components = [plane @ column / np.linalg.norm(plane @ column) for column in ica.mixing_.T]
    flat_melanin = melanin - (melanin @ shading) * shading
    cosines = [abs(c @ flat_melanin) / np.linalg.norm(flat_melanin) for c in components]
    vector = components[int(np.argmin(cosines))]
    return vector * np.sign(vector[1])


def fit_skin_optics(folder: str | Path, workers: int = 2, per_type: int | None = None,
                    progress: Callable[[int, int], None] | None = None, images: Sequence[str] | None = None) -> dict:
    """The vectors and per-type statistics (module docstring) from the ``train`` rows of a Fitzpatrick17k copy
    (``per_type`` of each type's, drawn with a fixed seed, for a quick fit; all by default) — or from the photographs
    ``images`` (md5hashes) of it, e.g. an experiment's own training split, so that nothing it tests on is a reference."""
    folder = Path(folder)
    if images is None:
        labels = pd.read_csv(MODEL_DIR / SPLIT_FILE, dtype=str)
        labels = labels[labels["split"] == "train"]
    else:
        labels = pd.read_csv(folder / LABELS_FILE, dtype=str)
        labels = labels[labels["md5hash"].isin(set(images))].drop_duplicates("md5hash")
    if per_type is not None:
        labels = labels.sample(frac=1, random_state=0).groupby("fitzpatrick_scale").head(per_type)
    labels = labels.reset_index(drop=True)
    paths = [folder / "images" / f"{md5}.jpg" for md5 in labels["md5hash"]]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} training photographs are missing, first {missing[0]}: "
                                "point at the shared Fitzpatrick17k copy (its images/ folder)")
    with ProcessPoolExecutor(workers) as pool:
        measured = []
        for number, item in enumerate(pool.map(_measure_image, paths, chunksize=32), 1):
            measured.append(item)
            if progress:
                progress(number, len(paths))
    keep = [k for k, item in enumerate(measured) if item is not None]
    scale = labels["fitzpatrick_scale"].astype(float)
    fst = ((scale + pd.to_numeric(labels["fitzpatrick_centaur"], errors="coerce").fillna(scale)) / 2).to_numpy()[keep]
    skin = np.array([measured[k]["skin"] for k in keep])
    slope, _ = np.linalg.lstsq(np.column_stack([fst, np.ones(len(fst))]), skin, rcond=None)[0]
    light = [k for k in keep if int(labels.loc[k, "fitzpatrick_scale"]) in HAEMOGLOBIN_TYPES]
    deviations = np.concatenate([measured[k]["lit"] - measured[k]["skin"] for k in light])
    basis = ChromophoreBasis(tuple(map(float, slope)), tuple(map(float, _haemoglobin_vector(deviations, slope))))
    per_type = {}
    annotated = labels["fitzpatrick_scale"].astype(int).to_numpy()
    for fst_type in range(1, 7):
        rows = [k for k in keep if annotated[k] == fst_type]
        densities = np.array([measured[k]["skin"] for k in rows])
        brightness = densities.mean(axis=1)
        low, high = np.percentile(brightness, REFERENCE_PERCENTILES)
        middle = [i for i in range(len(rows)) if low <= brightness[i] <= high]
        spread = [float(np.subtract(*np.percentile(basis.amounts(measured[k]["lit"])[:, 1], [90, 10]))) for k in rows]
        per_type[str(fst_type)] = {
            "images": len(rows),
            "median_skin_density": [round(float(x), 4) for x in np.median(densities, axis=0)],
            "haemoglobin_spread": round(float(np.median(spread)), 4),
            "references": {labels.loc[rows[i], "md5hash"]: [round(float(x), 4) for x in densities[i]] for i in middle},
        }
    return {"basis": {"melanin": [round(x, 5) for x in basis.melanin], "haemoglobin": [round(x, 5) for x in basis.haemoglobin]},
            "fitted_on": f"{len(keep)} of {len(labels)} {'training' if images is None else 'chosen'} photographs of the "
                         f"Fitzpatrick17k {'split' if images is None else 'copy'}, those with measurable skin",
            "per_type": per_type}


def save_skin_optics(fitted: dict, out: str | Path) -> Path:
    """Write the fitted optics as JSON, whole or not at all."""
    out = Path(out)
    with atomic_file(out, "w") as handle:
        json.dump(fitted, handle, indent=1)
        handle.write("\n")
    return out
