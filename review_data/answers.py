"""What a reviewer answers for each image: the vocabulary shared by the store, the app and the statistics."""

from __future__ import annotations

CALLS = ("real", "synthetic")  # the forced choice, and the two arms of a study
REALISM = range(1, 8)  # 1: clearly artificial … 7: indistinguishable from real
ABCD_ANSWERS = ("yes", "no", "unsure")
ABCD_QUESTIONS = {
    "abcd_asymmetry": "A: asymmetry plausible?",
    "abcd_border": "B: border realistic?",
    "abcd_colour": "C: colour variation realistic?",
    "abcd_diameter": "D: diameter appropriate for the lesion type?",
}
MAX_COMMENT = 2000
