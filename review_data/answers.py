"""What a reviewer answers for each image: the vocabulary shared by the store, the app and the statistics."""

from __future__ import annotations

CALLS = ("real", "synthetic")  # the forced choice, and the two arms of a study
REALISM = range(1, 8)  # 1: clearly artificial … 7: indistinguishable from real
CERTAINTY = {1: "guess", 2: "likely", 3: "very sure"}  # how sure of the call, in studies that ask (studies.asks_certainty)
ABCD_ANSWERS = ("yes", "no", "unsure")
ABCD_QUESTIONS = {
    "abcd_asymmetry": "A: asymmetry plausible?",
    "abcd_border": "B: border realistic?",
    "abcd_colour": "C: colour variation realistic?",
    "abcd_diameter": "D: diameter appropriate for the lesion type?",
}
MAX_COMMENT = 2000


def call_score(call: str, certainty: int) -> int:
    """The call and its certainty as one 6-point score of how synthetic the image looks, for an MRMC analysis: 1 real and
    very sure, 3 real as a guess, 4 synthetic as a guess, 6 synthetic and very sure."""
    return 3 + certainty if call == "synthetic" else 4 - certainty
