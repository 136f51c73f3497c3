"""HAM10000 (Tschandl et al., Sci Data 2018): ``HAM10000_metadata.csv``, one row per image.

Several images may show the same lesion (same ``lesion_id``). No skin type is recorded (the
population is mostly light-skinned, from Austria and Australia), so ``fst`` stays empty.
"""

from __future__ import annotations

from pathlib import Path

from .common import Metadata, Sample, age_text, known, lookup, read_single, value

NAME = "ham10000"
COLUMNS = ("lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization")

# dx → (diagnosis, malignant). The paper calls "akiec" (actinic keratoses and Bowen's disease)
# non-invasive variants of squamous cell carcinoma, hence malignant. "bkl" (seborrheic
# keratoses, solar lentigines, lichen-planus-like keratoses) is the benign keratosis class that
# our vocabulary calls seborrheic_keratosis; "vasc" (angiomas, angiokeratomas, pyogenic
# granulomas, haemorrhage) is benign.
LABELS = {
    "akiec": ("actinic_keratosis", True),
    "bcc": ("basal_cell_carcinoma", True),
    "bkl": ("seborrheic_keratosis", False),
    "df": ("dermatofibroma", False),
    "mel": ("melanoma", True),
    "nv": ("nevus", False),
    "vasc": ("vascular_lesion", False),
}


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "image_id", _sample)


def _sample(row: dict[str, str]) -> Sample:
    image_id = value(row, "image_id")
    diagnosis, malignant = lookup(LABELS, row, "dx", NAME)
    return Sample(
        image_id=image_id,
        file=f"{image_id}.jpg",
        diagnosis=diagnosis,
        malignant=malignant,
        dataset_label=row["dx"],
        lesion_id=row["lesion_id"],
        extra={
            "dx_type": row["dx_type"],
            "age": age_text(row["age"], "age"),
            "sex": known(row["sex"]).lower(),
            "anatomical_site": known(row["localization"]),
            # the optional "dataset" column (vidir_modern, rosendahl, ...) names the collection
            **({"collection": row["dataset"]} if "dataset" in row else {}),
        },
    )
