"""Text prompts for a (skin type, diagnosis) cell, with the learned tokens of textual inversion.

Stable Diffusion knows skin type only through words, so a prompt names it twice — the Roman
numeral that papers use and the word a caption would use ("type VI (six)") — and, once textual
inversion has learned them, the cell's own tokens: ``<fairskin-melanoma>`` goes before the
diagnosis words and ``<fairskin-fst6>`` after the skin type. Training, validation images and
generation all build prompts here, so a LoRA or a token meets at generation the text it was
trained on.
"""

from __future__ import annotations

from ..fst import ROMAN

DEFAULT_TEMPLATE = "dermoscopy image of {diagnosis} on Fitzpatrick type {fst} ({fst_word}) skin"
FIELDS = ("diagnosis", "fst", "fst_number", "fst_word")
FST_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def diagnosis_token(diagnosis: str) -> str:
    return f"<fairskin-{diagnosis.replace('_', '-')}>"


def skin_type_token(fst: int) -> str:
    return f"<fairskin-fst{fst}>"


def check_template(template: str) -> str:
    """``template`` if it formats with the known fields only, else a ValueError saying which field is unknown."""
    try:
        template.format(diagnosis="melanoma", fst="VI", fst_number="6", fst_word="six")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"prompt template {template!r} cannot be filled ({type(exc).__name__}: {exc}); "
                         f"use the fields {{{'}, {'.join(FIELDS)}}}") from None
    if "{diagnosis}" not in template:
        raise ValueError(f"prompt template {template!r} has no {{diagnosis}}: the model could not tell diagnoses apart")
    return template


def cell_prompt(fst: int, diagnosis: str, template: str = DEFAULT_TEMPLATE, tokens: frozenset[str] | set[str] = frozenset()) -> str:
    """The prompt of one cell; ``tokens`` are the learned tokens available (those of this cell are used)."""
    words = diagnosis.replace("_", " ")
    if diagnosis_token(diagnosis) in tokens:
        words = f"{diagnosis_token(diagnosis)} {words}"
    roman = ROMAN[fst]
    if skin_type_token(fst) in tokens:
        roman = f"{roman} {skin_type_token(fst)}"
    return template.format(diagnosis=words, fst=roman, fst_number=str(fst), fst_word=FST_WORDS[fst])
