"""A study in Markdown, as the admin's pages show it: what was created, its main numbers, its hidden checks.

These are views of the library's own results (`review_data.study.Study`, `review_data.stats.study_report`,
`review_data.attention_checks.reader_checks`), so they live beside them, where a test reads them without
building a page; the app's tabs only place them. What a person typed (names, reviewers) goes through
`fairskin_core.markdown_text.plain`, so the page shows it as typed.
"""

from __future__ import annotations

import pandas as pd

from fairskin_core.markdown_text import plain

from .attention_checks import GOLD_PASS
from .stats import MIN_AGREEMENT_IMAGES
from .study import Study


def created_text(study: Study) -> str:
    """What a new study is: its images, size and design, its hidden checks, its notes and its arms' measured skin types."""
    extra = f" and {study.n_practice} practice images" if study.n_practice else ""
    design = ""
    if study.n_repeats or study.n_gold:
        design += (f" Hidden among them for each reviewer: {study.n_repeats} repeated and {study.n_gold} gold-standard images, "
                   "never counted in the statistics.")
    if study.asks_certainty:
        design += " Reviewers say how sure they are of each call."
    notes = "".join(f"<br>**Note:** {plain(warning)}" for warning in study.warnings)
    if study.blinding and not study.blinding.separable:  # a separable study's check is among the notes
        notes += f"<br>{plain(study.blinding.sentence())}"
    tones = (f"\n\nSkin types of the drawn images, measured the same way in both arms:\n\n{study.tones.markdown_table()}"
             if study.tones else "")
    return (f"Created study **{plain(study.name)}**: {2 * study.n_per_arm} images{extra} at {study.image_size} px, "
            f"{study.design}.{design}{notes}{tones}")


def _share(value: dict) -> str:
    if value.get("estimate") is None:
        return f"— ({value.get('note') or 'no data'})"
    return f"{value['estimate']:.1%} (95% CI {value['ci_low']:.1%}–{value['ci_high']:.1%}, {value['successes']}/{value['n']})"


def _agreement(value: dict) -> str:
    """A coefficient with its interval and the images it rests on, or why it is not estimable."""
    images = f"{value['n_images']} image{'' if value['n_images'] == 1 else 's'} rated by ≥ 2 reviewers"
    if value["estimate"] is not None:
        return f"{value['estimate']:.2f} (95% CI {value['ci_low']:.2f}–{value['ci_high']:.2f}; {images})"
    if value["n_images"] < MIN_AGREEMENT_IMAGES:
        return f"not estimable: {images} (at least {MIN_AGREEMENT_IMAGES} needed)"
    return f"not estimable: {images}; {value['note']}"


def _mrmc(value: dict) -> str:
    """The MRMC AUC, its interval (readers and cases both random) and what it rests on, or why there is none."""
    if value["estimate"] is None:
        return value["note"]
    interval = (f"95% CI {value['ci_low']:.2f}–{value['ci_high']:.2f}, df {value['df']:.1f}" if value.get("ci_low") is not None
                else "no interval")
    note = f"; {value['note']}" if value.get("note") else ""
    return (f"{value['estimate']:.2f} ({interval}; {value['n_readers']} reviewers × {value['n_cases']} images; "
            f"Obuchowski–Rockette with Hillis df{note})")


def headline(report: dict) -> str:
    """The study's main numbers in a few lines of Markdown, with the caveats that go with them."""
    if not report["n_ratings"]:
        return "No ratings yet."
    detection = report["overall"]["detection"]
    realism = report["overall"]["realism"]
    agreement = report["agreement"]
    fooled = detection["synthetic_judged_real"]
    auc = realism.get("auc", {})
    lines = [
        f"**{report['n_ratings']} ratings** by {report['n_reviewers']} reviewers of {report['n_images']} images. "
        "**Synthetic is the positive class.**",
        "",
        f"- Accuracy: {_share(detection['accuracy'])}; exact binomial test against 50%: p = {detection['binomial_test']['p_value']:.3g}",
        f"- Sensitivity (synthetic called synthetic): {_share(detection['sensitivity'])}",
        f"- Specificity (real called real): {_share(detection['specificity'])}",
        f"- Synthetic images judged real: {_share(fooled)} — target over {fooled['target']:.0%}: "
        + ("met (whole CI above)" if fooled["ci_above_target"]
           else "point estimate above, CI not" if fooled["above_target"] else "not met"),
        f"- Equivalence (TOST, accuracy within 50% ± {detection['equivalence']['margin']:.0%}): "
        + ("shown" if detection["equivalence"]["equivalent"] else "not shown")
        + f", p = {detection['equivalence']['p_value']:.3g}, power {detection['equivalence']['power']:.0%}",
    ]
    if auc.get("estimate") is not None:
        lines.append(f"- Realism as a detector of real images: AUC {auc['estimate']:.2f} (95% CI {auc['ci_low']:.2f}–{auc['ci_high']:.2f})")
    lines.append(f"- Reader-averaged AUC of telling synthetic from real by realism (MRMC): {_mrmc(report['mrmc_auc'])}")
    if "mrmc_auc_certainty" in report:  # the study asks how sure each call is
        lines.append("- Reader-averaged AUC of telling synthetic from real by the call and its certainty (MRMC): "
                     f"{_mrmc(report['mrmc_auc_certainty'])}")
    for key, name in (("calls", "Fleiss' κ on the calls"), ("realism", "Krippendorff's α (ordinal) on realism")):
        lines.append(f"- {name}: {_agreement(agreement[key])}")
    notes = "\n\n".join(f"> {note}" for note in report["notes"][1:])  # one quote block per caveat
    return "\n".join(lines) + "\n\n" + notes


def summary_text(report: dict, study: Study) -> str:
    """The dashboard's summary of a study: its `headline` and what reviewers saw."""
    return f"{headline(report)}\n\n*What reviewers saw:* {plain(study.shown_size)}."


def checks_text(n_repeats: int, n_gold: int, readers: pd.DataFrame) -> str:
    """Each reader's hidden checks in a Markdown table: test–retest on the repeats, gold-standard images right, a flag."""
    if not n_repeats and not n_gold:
        return ("*Attention and consistency:* this study has no hidden checks (a new study can have repeated and gold-standard "
                "images: Studies tab, Create a study).")
    head = (f"**Attention and consistency** ({n_repeats} repeated and {n_gold} gold-standard images hidden in each reviewer's "
            f"sequence; in no statistic above; a reviewer answering under {GOLD_PASS:.0%} of the gold-standard images right is "
            "flagged)")
    if readers.empty:
        return f"{head}: no check answered yet."

    def share(value) -> str:
        return "—" if pd.isna(value) else f"{value:.0%}"

    shown = pd.DataFrame({
        "reviewer": readers["reviewer"].map(plain),
        "repeats rated twice": readers["repeats_answered"],
        "same call": readers["repeat_call_agreement"].map(share),
        "realism within 1": readers["repeat_realism_within_1"].map(share),
        "mean realism change": ["—" if pd.isna(v) else f"{v:.2f}" for v in readers["repeat_realism_mean_abs_difference"]],
        "gold right": [f"{right} of {n}" for right, n in zip(readers["gold_correct"], readers["gold_answered"], strict=True)],
        "flag": readers["flag"].map(lambda flag: f"**{flag}**" if flag else ""),
    })
    return f"{head}\n\n{shown.to_markdown(index=False, disable_numparse=True)}"
