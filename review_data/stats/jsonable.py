"""Results as plain Python, so that every report goes through json.dumps(..., allow_nan=False)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def jsonable(value):
    """Plain Python for json.dumps: numpy numbers become int / float / bool, NaN and inf become None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
