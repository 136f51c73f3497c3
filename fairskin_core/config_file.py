"""JSON run descriptions (`fairskin train --config`, `fairskin lora --config`): read strictly, overridden by options.

A typo in a field name must not silently train with a default, so unknown fields are refused
by name; values given on the command line win over the file's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .workspace import refuse_private


def read_config_values(cls: type, path: str | Path, overrides: dict) -> dict:
    """The fields of dataclass ``cls`` from the JSON file ``path``, with the non-None ``overrides`` applied."""
    refuse_private(path, "a config file")
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config is one JSON object of fields, not a {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(sorted(known))}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values
