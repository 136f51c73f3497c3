"""Diverse Dermatology Images (Daneshjou et al., Sci Adv 2022): ``ddi_metadata.csv``.

The file starts with pandas' unnamed index column. Skin tone is given only as a group (12, 34,
56 = FST I-II, III-IV, V-VI), so ``fst`` stays empty and ``fst_group`` carries it. Every image
is biopsy-proven and ``malignant`` is the dataset's own.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .common import Metadata, Sample, check_malignant, lookup, parse_bool, read_single, value

NAME = "ddi"
COLUMNS = ("DDI_ID", "DDI_file", "skin_tone", "malignant", "disease")
SKIN_TONE = {"12": "I-II", "34": "III-IV", "56": "V-VI"}

# DDI's hyphenated disease names that are one of our diagnoses; every other disease (78 in
# all: cysts, warts, adnexal tumours, lymphomas, kaposi sarcoma, ...) is "other", with the
# file's malignancy. "atypical-spindle-cell-nevus-of-reed" is labelled malignant by DDI, so it
# cannot be a (benign) nevus: other. Solar lentigo and lichenoid keratosis join seborrheic
# keratosis as the benign keratosis class; haematoma joins vascular lesions as in HAM10000.
LABELS = {
    "melanoma": ("melanoma", None),
    "melanoma-in-situ": ("melanoma", None),
    "melanoma-acral-lentiginous": ("melanoma", None),
    "nodular-melanoma-(nm)": ("melanoma", None),
    "basal-cell-carcinoma": ("basal_cell_carcinoma", None),
    "basal-cell-carcinoma-superficial": ("basal_cell_carcinoma", None),
    "basal-cell-carcinoma-nodular": ("basal_cell_carcinoma", None),
    "squamous-cell-carcinoma": ("squamous_cell_carcinoma", None),
    "squamous-cell-carcinoma-in-situ": ("squamous_cell_carcinoma", None),
    "squamous-cell-carcinoma-keratoacanthoma": ("squamous_cell_carcinoma", None),
    "actinic-keratosis": ("actinic_keratosis", None),
    "seborrheic-keratosis": ("seborrheic_keratosis", None),
    "seborrheic-keratosis-irritated": ("seborrheic_keratosis", None),
    "benign-keratosis": ("seborrheic_keratosis", None),
    "solar-lentigo": ("seborrheic_keratosis", None),
    "lichenoid-keratosis": ("seborrheic_keratosis", None),
    "dermatofibroma": ("dermatofibroma", None),
    "melanocytic-nevi": ("nevus", None),
    "dysplastic-nevus": ("nevus", None),
    "blue-nevus": ("nevus", None),
    "pigmented-spindle-cell-nevus-of-reed": ("nevus", None),
    "angioma": ("vascular_lesion", None),
    "arteriovenous-hemangioma": ("vascular_lesion", None),
    "pyogenic-granuloma": ("vascular_lesion", None),
    "glomangioma": ("vascular_lesion", None),
    "hematoma": ("vascular_lesion", None),
}


def read(metadata: list[Path]) -> Metadata:
    return read_single(metadata, NAME, COLUMNS, "DDI_file", _sample)


def _sample(row: dict[str, str]) -> Sample:
    file = value(row, "DDI_file")
    disease = value(row, "disease")
    diagnosis = LABELS.get(disease, ("other", None))[0]
    malignant = parse_bool(row["malignant"], "malignant")
    check_malignant(diagnosis, malignant, "malignant")
    return Sample(
        image_id=PurePosixPath(file).stem,
        file=file,
        diagnosis=diagnosis,
        malignant=malignant,
        dataset_label=disease,
        fst_group=lookup(SKIN_TONE, row, "skin_tone", NAME),
        fst_source="grouped",
    )
