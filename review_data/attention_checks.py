"""Attention and consistency checks hidden among a study's images: repeats, and gold-standard images of known truth.

A repeat shows one of the study's own images a second time, under another opaque name, at least half
the reviewer's sequence away from its first showing (`interleave`): the two answers give that
reader's test–retest agreement. A gold-standard image comes from a manifest of its own and has a
known truth — an obviously synthetic image (a phantom), or a known real one —: a reader who misses
them is flagged as possibly inattentive. Reviewers cannot tell a check from a study image (one size,
one encoding, an opaque name); their answers go to tables of their own (``check_ratings``,
``check_cannot_assess``), so no statistic of the study counts them: `reader_checks` reports them
per reader, apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairskin_core.manifest import Manifest

from .blinding import image_identities

REPEAT_STREAM, GOLD_STREAM, CHECK_ORDER = 2, 3, 2  # random streams of their own: a study without checks draws as before
GOLD_TRUTH = {"real": "real", "synthetic": "synthetic", "phantom": "synthetic"}  # a gold image's source is its known answer
GOLD_PASS = 0.75  # a reader who answers a smaller share of the gold-standard images right is flagged
READER_CHECK_COLUMNS = [
    "reviewer", "repeats_answered", "repeat_call_agreement", "repeat_realism_mean_abs_difference", "repeat_realism_within_1",
    "gold_answered", "gold_correct", "gold_accuracy", "checks_set_aside", "flag",
]


def choose_repeats(arms: list[str], n: int, seed: int) -> list[int]:
    """Which of the study's images (``arms``: each one's arm, in the study's order) are shown twice: ``n`` of them, half
    from each arm (an odd one from an arm the seed picks), at random."""
    rng = np.random.default_rng([seed, REPEAT_STREAM])
    counts = {"real": n // 2, "synthetic": n // 2}
    if n % 2:
        counts[str(rng.choice(list(counts)))] += 1
    chosen = []
    for arm, count in counts.items():
        indexes = [i for i, a in enumerate(arms) if a == arm]
        chosen += sorted(rng.choice(indexes, size=count, replace=False).tolist())
    return chosen


def draw_gold(manifest: Manifest, n: int, seed: int, taken: set) -> list[tuple[str, pd.Series]]:
    """``n`` gold-standard rows as (truth, row), drawn at random from ``manifest``, skipping any that is the same picture
    as one in ``taken`` (`image_identities` of the study's and practice images, updated with those drawn)."""
    rng = np.random.default_rng([seed, GOLD_STREAM])
    table = manifest.table.sort_values("image_id", kind="stable")
    chosen = []
    for i in rng.permutation(len(table)):
        if len(chosen) == n:
            break
        row = table.iloc[i]
        identities = image_identities(row["image_id"], manifest.image_file(row["image_path"], row["image_root"]))
        if taken.intersection(identities):
            continue
        taken.update(identities)
        chosen.append((GOLD_TRUTH[row["source"]], row))
    if len(chosen) < n:
        raise ValueError(f"{manifest.path}: only {len(chosen)} gold-standard images are not already in the study, fewer than the "
                         f"{n} asked for; ask for fewer gold-standard images or give a manifest with more")
    return chosen


def interleave(order: list[str], checks: list[tuple[str, str | None]], seed: int) -> list[tuple[str, bool]]:
    """A reviewer's sequence: their study images in ``order`` with the ``checks`` (check image, the study image it repeats
    or None for gold) placed among them, as (image, is a check).

    A repeat goes at least half the study images away from its first showing (before or after it,
    at random); a gold-standard image anywhere. Without checks the sequence is ``order`` itself."""
    rng = np.random.default_rng([seed, CHECK_ORDER])
    n, gap = len(order), max(1, len(order) // 2)
    index = {image: i for i, image in enumerate(order)}
    slots: dict[int, list[str]] = {}
    for check, repeat_of in checks:  # a check at slot j is shown just before order[j] (j = n: after the last)
        if repeat_of is None:
            slot = int(rng.integers(0, n + 1))
        else:
            first = index[repeat_of]
            far = [j for j in range(n + 1) if j - first > gap or first - j >= gap]
            slot = int(rng.choice(far))
        slots.setdefault(slot, []).append(check)
    sequence = []
    for j in range(n + 1):
        sequence += [(check, True) for check in slots.get(j, [])]
        if j < n:
            sequence.append((order[j], False))
    return sequence


def reader_checks(answers: pd.DataFrame) -> pd.DataFrame:
    """Per reader: test–retest agreement on the repeats (the same call; realism's mean absolute difference and the share
    within 1 point), gold-standard answers right, checks set aside, and a flag when gold accuracy is under `GOLD_PASS`.

    ``answers``: `export.check_answers_table`'s rows. A repeat counts once both showings were rated."""
    rows = []
    for reviewer, own in answers.groupby("reviewer", sort=True):
        rated = own[own["call"].notna()]
        repeats = rated[(rated["kind"] == "repeat") & rated["first_call"].notna()]
        gold = rated[rated["kind"] == "gold"]
        difference = (repeats["realism"] - repeats["first_realism"]).abs()
        accuracy = float((gold["call"] == gold["truth"]).mean()) if len(gold) else None
        rows.append({
            "reviewer": reviewer,
            "repeats_answered": len(repeats),
            "repeat_call_agreement": float((repeats["call"] == repeats["first_call"]).mean()) if len(repeats) else None,
            "repeat_realism_mean_abs_difference": float(difference.mean()) if len(repeats) else None,
            "repeat_realism_within_1": float((difference <= 1).mean()) if len(repeats) else None,
            "gold_answered": len(gold),
            "gold_correct": int((gold["call"] == gold["truth"]).sum()),
            "gold_accuracy": accuracy,
            "checks_set_aside": int(own["set_aside"].notna().sum()),
            "flag": (f"missed {len(gold) - int((gold['call'] == gold['truth']).sum())} of {len(gold)} gold-standard images: "
                     "possibly inattentive" if accuracy is not None and accuracy < GOLD_PASS else ""),
        })
    return pd.DataFrame(rows, columns=READER_CHECK_COLUMNS)

