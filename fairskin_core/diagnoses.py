"""The canonical diagnosis vocabulary every manifest uses, and which diagnoses are malignant.

Importers map each dataset's own codes onto these names (see docs/datasets.md).
"""

from __future__ import annotations

DIAGNOSES = (
    "melanoma",
    "nevus",
    "basal_cell_carcinoma",
    "squamous_cell_carcinoma",
    "actinic_keratosis",
    "seborrheic_keratosis",
    "dermatofibroma",
    "vascular_lesion",
    "other",
)

# Malignancy that follows from the diagnosis alone. Actinic keratosis (pre-malignant; HAM10000's
# "akiec" also holds Bowen's disease), vascular lesions (Kaposi sarcoma vs haemangioma) and
# "other" depend on the dataset's own label, so they are absent here.
MALIGNANCY = {
    "melanoma": True,
    "basal_cell_carcinoma": True,
    "squamous_cell_carcinoma": True,
    "nevus": False,
    "seborrheic_keratosis": False,
    "dermatofibroma": False,
}

SHORT_NAMES = {
    "melanoma": "MEL",
    "nevus": "NEV",
    "basal_cell_carcinoma": "BCC",
    "squamous_cell_carcinoma": "SCC",
    "actinic_keratosis": "AK",
    "seborrheic_keratosis": "SK",
    "dermatofibroma": "DF",
    "vascular_lesion": "VASC",
    "other": "OTHER",
}
