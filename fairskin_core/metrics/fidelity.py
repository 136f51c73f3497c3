"""FST fidelity: is each synthetic image of the skin type it was asked for?

The skin-tone analysis measures each synthetic image's ITA and maps it to a type; that type
is compared with the requested one (the manifest's ``fst`` with ``fst_source = requested``).
The plan's target: over 90% within one type, overall and for every requested type. The report
records the method (``ita``: generated dermoscopy is drawn, and judged, by skin colour; the learned
estimator was trained on clinical photographs) and the mean confidence of the measured types.
"""

from __future__ import annotations

import pandas as pd

from ..analysis.agreement import agreement_report

TARGET_WITHIN_ONE = 0.90


def fst_fidelity(measured: pd.DataFrame) -> dict:
    """Agreement of measured with requested types, and whether each type meets the plan's target."""
    report = agreement_report(measured)
    report["target_within_one"] = TARGET_WITHIN_ONE
    report["meets_target"] = {
        fst: (share >= TARGET_WITHIN_ONE if share is not None else None) for fst, share in report["within_one_by_type"].items()
    }
    report["statuses"] = measured["status"].value_counts().to_dict()
    report["method"] = "ita"
    measured_rows = measured["fst_estimate"].notna()
    confidence = measured.loc[measured_rows, "fst_confidence"] if "fst_confidence" in measured else pd.Series(dtype=float)
    report["mean_confidence"] = float(confidence.mean()) if confidence.notna().any() else None
    return report
