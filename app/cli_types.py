"""Option types the `fairskin` verbs share: a bad value is refused by argparse with the checks' own words."""

from __future__ import annotations

import argparse

from fairskin_core.numbers import seed_number


def seed(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**32 − 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number, not {text!r}") from None
    try:
        return seed_number(number, "--seed")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
