"""Option types the `fairskin` verbs share (a bad value is refused by argparse with the checks' own words), and the option
that takes each library parameter."""

from __future__ import annotations

import argparse

from fairskin_core.errors import worded
from fairskin_core.numbers import seed_number


def seed(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**32 − 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number, not {text!r}") from None
    try:
        return seed_number(number, "{seed}")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(worded(exc, option_name)) from None


# library parameters that an option of another name takes (``resume=False``: the argument a training run's --restart passes)
OPTION_OF = {"source_manifest": "manifest", "source_ids": "image_id", "loras": "lora", "textual_inversions": "textual_inversion",
             "resume=False": "restart"}


def option_name(parameter: str) -> str:
    """The option that takes library parameter ``parameter``: ``fst_mix`` is ``--fst-mix``, ``loras`` ``--lora``."""
    return "--" + OPTION_OF.get(parameter, parameter).replace("_", "-")
