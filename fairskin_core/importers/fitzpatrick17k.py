"""Fitzpatrick 17k (Groh et al., CVPR 2021): ``fitzpatrick17k.csv``, one row per clinical image.

Skin type is ``fitzpatrick_scale`` (annotators' label, 1-6; -1 = unknown). Images are named
``<md5hash>.jpg``; many source URLs have died, so expect part of them missing.
"""

from __future__ import annotations

from pathlib import Path

from .common import Metadata, Sample, check_malignant, lookup, parse_fst, read_single, value

NAME = "fitzpatrick17k"
COLUMNS = (
    "md5hash",
    "fitzpatrick_scale",
    "fitzpatrick_centaur",
    "label",
    "nine_partition_label",
    "three_partition_label",
    "qc",
    "url",
)

# The lesion labels that are one of our diagnoses; the other labels (inflammatory,
# genodermatoses and other tumours, e.g. kaposi sarcoma, mycosis fungoides, becker nevus,
# epidermal nevus) are "other". Malignancy always comes from three_partition_label, which calls
# actinic keratosis malignant. None: malignancy from the file.
LABELS = {
    "melanoma": ("melanoma", None),
    "malignant melanoma": ("melanoma", None),
    "superficial spreading melanoma ssm": ("melanoma", None),
    "lentigo maligna": ("melanoma", None),  # melanoma in situ
    "basal cell carcinoma": ("basal_cell_carcinoma", None),
    "basal cell carcinoma morpheiform": ("basal_cell_carcinoma", None),
    "solid cystic basal cell carcinoma": ("basal_cell_carcinoma", None),
    "squamous cell carcinoma": ("squamous_cell_carcinoma", None),
    "actinic keratosis": ("actinic_keratosis", None),
    "seborrheic keratosis": ("seborrheic_keratosis", None),
    "dermatofibroma": ("dermatofibroma", None),
    # melanocytic nevi only: becker nevus, epidermal nevus, nevus sebaceous and naevus
    # comedonicus are not melanocytic
    "nevocytic nevus": ("nevus", None),
    "congenital nevus": ("nevus", None),
    "halo nevus": ("nevus", None),
    # benign vascular tumours and malformations
    "pyogenic granuloma": ("vascular_lesion", None),
    "granuloma pyogenic": ("vascular_lesion", None),
    "port wine stain": ("vascular_lesion", None),
    "lymphangioma": ("vascular_lesion", None),
    "telangiectases": ("vascular_lesion", None),
}
_THREE_PARTITION = {"benign": False, "malignant": True, "non-neoplastic": False}


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "md5hash", _sample)


def _sample(row: dict[str, str]) -> Sample:
    md5 = value(row, "md5hash")
    label = value(row, "label")
    diagnosis = LABELS.get(label, ("other", None))[0]
    malignant = lookup(_THREE_PARTITION, row, "three_partition_label", NAME)
    check_malignant(diagnosis, malignant, "three_partition_label")
    scale = row["fitzpatrick_scale"]
    fst = None if scale == "-1" else parse_fst(scale, "fitzpatrick_scale", unknown="-1")
    return Sample(
        image_id=md5,
        file=f"{md5}.jpg",
        diagnosis=diagnosis,
        malignant=malignant,
        dataset_label=label,
        fst=fst,
        fst_source="annotated" if fst is not None else "",
        extra={
            "fitzpatrick_centaur": row["fitzpatrick_centaur"],
            "nine_partition_label": row["nine_partition_label"],
            "three_partition_label": row["three_partition_label"],
            "qc": row["qc"],
            "url": row["url"],
        },
    )
