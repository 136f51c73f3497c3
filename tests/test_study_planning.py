"""Study planning: the predicted interval widths hold on simulated studies, a pilot's components give back the pilot's own
interval, and the command line and the Studies tab say the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from review_data.planning import (
    assumed_components,
    crossed_components,
    half_widths,
    pilot_components,
    plan_study,
)
from review_data.stats.reader_study import study_mrmc_auc


def crossed_study(rng, readers: int, per_arm: int, accuracy=0.6, reader_sd=0.08, image_sd=0.15) -> pd.DataFrame:
    """Every reader rates every image: right with probability accuracy + reader effect + image effect; realism from the
    image's look (synthetic images look a little less real) as each reader sees it (some see it better), and their
    leniency."""
    images = 2 * per_arm
    reader_effect, image_effect = rng.normal(0, reader_sd, readers), rng.normal(0, image_sd, images)
    chance = np.clip(accuracy + reader_effect[:, None] + image_effect[None, :], 0.01, 0.99)
    right = rng.random((readers, images)) < chance
    source = np.array(["real", "synthetic"] * per_arm)
    look = rng.normal(0, 1, images) - 1.2 * (source == "synthetic")
    leniency, skill = rng.normal(0, 0.5, readers), rng.uniform(0.1, 2.0, readers)
    realism = np.clip(np.rint(4 + skill[:, None] * look[None, :] + leniency[:, None] + rng.normal(0, 1, (readers, images))),
                      1, 7).astype(int)
    rows = [{"reviewer": f"r{r}", "image": f"i{c:03d}", "source": source[c],
             "call": source[c] if right[r, c] else ("real" if source[c] == "synthetic" else "synthetic"),
             "realism": realism[r, c], "abcd_asymmetry": "yes", "abcd_border": "yes", "abcd_colour": "yes", "abcd_diameter": "yes",
             "seconds": 3.0, "fst_group": "", "diagnosis": "nevus"}
            for r in range(readers) for c in range(images)]
    return pd.DataFrame(rows)


def test_the_detection_rates_predicted_spread_is_the_spread_of_simulated_studies():
    rng = np.random.default_rng(1)
    components = assumed_components(accuracy=0.6, reader_sd=0.08, image_sd=0.15)
    rates = []
    for _ in range(300):  # 300 studies of 6 readers × 40 images per arm, drawn from the model the plan assumes
        reader_effect, image_effect = rng.normal(0, 0.08, 6), rng.normal(0, 0.15, 80)
        chance = np.clip(0.6 + reader_effect[:, None] + image_effect[None, :], 0, 1)
        rates.append((rng.random((6, 80)) < chance).mean())
    predicted = half_widths(components, readers=6, images_per_arm=40)["detection"] / 1.959964
    assert np.std(rates) == pytest.approx(predicted, rel=0.15)


def test_a_pilots_components_are_recovered_and_give_back_its_own_auc_interval():
    rng = np.random.default_rng(2)
    right = rng.random((40, 600)) < np.clip(0.6 + rng.normal(0, 0.1, 40)[:, None] + rng.normal(0, 0.2, 600)[None, :], 0, 1)
    var_reader, var_image, _ = crossed_components(right.astype(float))
    assert var_reader == pytest.approx(0.01, rel=0.5) and var_image == pytest.approx(0.04, rel=0.3)

    pilot = crossed_study(np.random.default_rng(3), readers=5, per_arm=30)
    components = pilot_components(pilot, "pilot")
    assert components.source == "pilot: study 'pilot', 5 readers × 60 images" and components.auc_images_per_arm == 30
    own = study_mrmc_auc(pilot)
    assert components.auc_var_reader >= 0  # readers differ in this pilot: the plan's reader variance is the pilot's
    at_pilot = half_widths(components, readers=5, images_per_arm=30)
    assert at_pilot["auc_std_err"] == pytest.approx(own["std_err"], rel=1e-9)
    assert at_pilot["auc"] == pytest.approx(own["ci_high"] - own["estimate"], rel=1e-6)  # the pilot's own interval
    wider, narrower = half_widths(components, 5, 15), half_widths(components, 10, 60)
    assert wider["auc"] > at_pilot["auc"] > narrower["auc"] and wider["detection"] > at_pilot["detection"] > narrower["detection"]
    with pytest.raises(ValueError, match="at least 2 readers who rated every image"):
        pilot_components(pilot[pilot["reviewer"] == "r0"], "alone")


def test_the_plan_recommends_the_cheapest_design_that_meets_both_targets():
    components = assumed_components()
    plan = plan_study(components, detection_half_width=0.06, auc_half_width=0.08)
    readers, per_arm = plan.smallest
    widths = half_widths(components, readers, per_arm)
    assert widths["detection"] <= 0.06 and widths["auc"] <= 0.08
    meeting = plan.table[(plan.table["detection_rate_half_width"] <= 0.06) & (plan.table["auc_half_width"] <= 0.08)]
    assert (meeting["readers"] * meeting["images_per_arm"]).min() >= readers * per_arm  # no listed design is cheaper
    assert f"{readers} readers × {per_arm} images per arm" in plan.summary() and "assumed:" in plan.summary()
    assert plan_study(components, 0.001, 0.001).smallest is None  # unreachable: said so, not a silly design
    with pytest.raises(ValueError, match="detection rate half-width must lie between 0 and 0.5"):
        plan_study(components, 0.0, 0.05)


def test_study_plan_on_the_command_line(capsys):
    assert main(["study", "plan", "--half-width", "0.06", "--auc-half-width", "0.08"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("For 95% intervals of at most ±0.06 (detection rate) and ±0.08 (AUC): ")
    assert "readers  images_per_arm  detection_rate_half_width  auc_half_width" in out
    assert main(["study", "plan", "--pilot", "no-such-study"]) == 1
    assert "no study named 'no-such-study'" in capsys.readouterr().err
