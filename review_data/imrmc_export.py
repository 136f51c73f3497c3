"""The ratings in iMRMC's input format, which RJafroc reads too: for a statistician who re-analyses in the tools they trust.

An ``.imrmc`` file (FDA's iMRMC, https://github.com/DIDSR/iMRMC; RJafroc's
``DfReadDataFile(file, format = "iMRMC")``) is a free-text description, the study's counts
(``N0:`` signal-absent cases, ``N1:`` signal-present cases, ``NR:`` readers, ``NM:`` modalities),
then ``BEGIN DATA:`` and one line per observation, ``reader,case,modality,score``. A case's truth
is a line of reader -1 and modality 0 with score 0 (absent) or 1 (present). RJafroc needs numeric
case and reader ids, so readers and images are numbered (1, 2, ...; the key is written beside:
`imrmc_key`), and a fully crossed design (every reader scores every image): a reviewer still
at work is left out of RJafroc's analysis but not of iMRMC's, which takes any design.

As in the study's own MRMC analysis (`stats.reader_study`), synthetic is signal-present and the
score is 8 − realism, the confidence that an image is synthetic, or, for a study that asks how sure
each call is, the call with its certainty (1 real and very sure … 6 synthetic and very sure:
`answers.call_score`); one modality (1): the reading.
"""

from __future__ import annotations

import pandas as pd

from .stats.ratings import POSITIVE

REALISM_FLIP = 8  # score = 8 - realism: 7 (indistinguishable from real) is the least synthetic
MODALITY = 1


def imrmc_key(ratings: pd.DataFrame) -> pd.DataFrame:
    """The numbers the ``.imrmc`` file gives reviewers and images: (kind, number, id, source)."""
    readers = sorted(ratings["reviewer"].unique())
    images = ratings.drop_duplicates("image").sort_values(["source", "image"])
    return pd.concat([
        pd.DataFrame({"kind": "reader", "number": range(1, len(readers) + 1), "id": readers, "source": ""}),
        pd.DataFrame({"kind": "case", "number": range(1, len(images) + 1), "id": images["image"].to_numpy(),
                      "source": images["source"].to_numpy()}),
    ], ignore_index=True)


def imrmc_text(ratings: pd.DataFrame, study_name: str, score: str = "realism") -> str:
    """The ``.imrmc`` file of ``ratings`` (`export.ratings_table`'s rows) of study ``study_name``, scored by realism or, with
    ``score="call_score"``, by the call with its certainty."""
    key = imrmc_key(ratings)
    readers = dict(zip(key.loc[key["kind"] == "reader", "id"], key.loc[key["kind"] == "reader", "number"], strict=True))
    cases = key[key["kind"] == "case"]
    truth = [(int(number), int(source == POSITIVE)) for number, source in zip(cases["number"], cases["source"], strict=True)]
    case_of = dict(zip(cases["id"], cases["number"], strict=True))
    scored = ratings[ratings[score].notna()]
    values = REALISM_FLIP - scored["realism"] if score == "realism" else scored["call_score"]
    described = (f"Score: {REALISM_FLIP} - realism (1-7), the reader's confidence that the image is synthetic." if score == "realism" else
                 "Score: the call with its certainty, 1 (real, very sure) to 6 (synthetic, very sure).")
    lines = [
        f"fairskin blinded review, study {study_name}: real (0, signal-absent) vs synthetic (1, signal-present) images.",
        f"{described} One modality ({MODALITY}).",
        "Readers and cases are numbered as in imrmc_key.csv.",
        f"N0: {sum(1 for _, present in truth if not present)}",
        f"N1: {sum(present for _, present in truth)}",
        f"NR: {len(readers)}",
        "NM: 1",
        "",
        "BEGIN DATA:",
        *(f"-1,{case},0,{present}" for case, present in truth),
        *(f"{readers[r]},{case_of[i]},{MODALITY},{int(v)}" for r, i, v in zip(scored["reviewer"], scored["image"], values, strict=True)),
    ]
    return "\n".join(lines) + "\n"
