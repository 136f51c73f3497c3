"""Numbers a person typed, checked as they were typed: refused in words when out of range or not whole, never rounded.

A box that silently turns 2.5 into 2, or 0 into 1, makes a run that nobody asked for; so every count,
seed and step number from the web app (and the libraries' own requests) goes through `whole_number`.
"""

from __future__ import annotations

import re

from .errors import ParameterError


def whole_number(value: object, what: str, low: int, high: int) -> int:
    """``value`` as an int if it is a whole number from ``low`` to ``high``; else a ValueError that says so (never rounded).

    ``what`` names the number in words ("Images per arm"), or as the library parameter that took it (``{seed}``): the
    refusal is then a `ParameterError` naming it, which each front end words its own way."""
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is None or number != number or number % 1 or not low <= number <= high:
        shown = "an empty box" if value is None else f"{value:g}" if isinstance(number, float) else str(value)
        raise ParameterError(f"{what} must be a whole number from {low:,} to {high:,}, not {shown}", *re.findall(r"{(\w+)}", what))
    return int(number)


MAX_SEED = 2**32 - 1  # the range numpy, torch and the databases all take; a larger seed is refused, never wrapped


def seed_number(value: object, what: str = "the seed") -> int:
    """A seed as a whole number from 0 to `MAX_SEED` (`whole_number`'s refusal otherwise)."""
    return whole_number(value, what, 0, MAX_SEED)
