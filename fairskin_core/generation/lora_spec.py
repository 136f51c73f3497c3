"""A LoRA as a person writes it, ``FOLDER`` or ``FOLDER:WEIGHT``: `fairskin generate --lora` and the Generate tab's lines."""

from __future__ import annotations

import math


def parse_lora(text: str) -> tuple[str, float]:
    """The folder and weight (default 1) of ``FOLDER[:WEIGHT]``; a weight that is not a finite number is refused."""
    folder, colon, weight = text.rpartition(":")
    if not colon or not folder:
        return text, 1.0
    try:
        value = float(weight)
    except ValueError:
        raise ValueError(f"{text!r}: the weight after ':' must be a number, e.g. {folder}:0.8") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r}: the weight after ':' must be a finite number, e.g. {folder}:0.8")
    return folder, value
