"""Quality reports of small sets (issue 17): FID said to be biased where it is, sets too small refused, the Inception Score shown.

The reports made here in-process pass the worker's workspace caches, as `fairskin metrics` run here does: the real set is
measured once for the module."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.metrics.inception import TF_CLASSES
from fairskin_core.metrics.report import build_report, inception_score_section, summary_lines
from fairskin_core.phantoms.dataset import write_phantom_dataset

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory) -> dict[str, Path]:
    """24 real phantoms, and synthetic sets of their first 2 and first 1 rows (another seed)."""
    root = tmp_path_factory.mktemp("small_sets")
    real = write_phantom_dataset(root / "real", n=24, preset="balanced", size=64, seed=1)
    rendered = read_manifest(write_phantom_dataset(root / "rendered", n=4, preset="balanced", size=64, seed=2)).table
    synthetic = rendered.assign(source="synthetic", fst_source="requested", scheduler="ddim", steps=25, guidance=3.0)
    return {"real": real, "two": write_manifest(synthetic.head(2), root / "rendered" / "two.csv"),
            "one": write_manifest(synthetic.head(1), root / "rendered" / "one.csv")}


def _metrics(real: Path, synthetic: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "metrics", "--real", real, "--synthetic", synthetic, "--out", out],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=600)


def test_fid_of_two_images_is_said_to_be_biased_in_every_output(small_sets, tmp_path):
    result = _metrics(small_sets["real"], small_sets["two"], tmp_path / "out")
    assert result.returncode == 0, result.stderr
    bias = "biased upwards: 2 images for 2048 feature dimensions; compare KID"
    overall = next(line for line in result.stdout.splitlines() if line.strip().startswith("overall:"))
    assert re.fullmatch(rf"   overall: FID +[0-9.]+ \({bias}\)  KID -?[0-9.]+ ± [0-9.]+  \(24 real, 2 synthetic\)", overall), overall
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["overall"]["fid"] > 0 and groups["overall"]["fid_note"] == bias and groups["overall"]["note"] == ""
    for group in groups.values():  # each group has at most 2 synthetic images: computed with the caveat, or not at all
        assert (group["fid"] is not None and group["fid_note"].startswith("biased upwards: ")) or (
            group["fid"] is None and group["note"].startswith("not computable: ")), group
    assert pd.read_csv(tmp_path / "out" / "groups.csv").set_index("group").loc["overall", "fid_note"] == bias
    assert bias in (tmp_path / "out" / "report.html").read_text()
    assert report["real_floor"]["fid_note"] == "biased upwards: 2 images for 2048 feature dimensions, equally on both lines; compare KID"
    assert report["fid_infinity"]["note"] == "FID∞ not computable: it needs FIDs at 2 or more subset sizes; 2 synthetic images give 1"
    assert report["fid_infinity"]["note"] in result.stdout
    assert any(line.startswith("Inception Score") for line in result.stdout.splitlines()), result.stdout


def test_sets_too_small_are_refused_by_name_and_nothing_is_written(small_sets, workspace_caches, tmp_path):
    result = _metrics(small_sets["real"], small_sets["one"], tmp_path / "out")
    assert result.returncode == 1
    assert f"The synthetic set ({small_sets['one']}) has 1 image; FID and KID need at least 2 in each set." in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a half-written one beside it
    # Two rows, one of them unreadable: refused once the images have been read, saying why the other one is missing.
    table = read_manifest(small_sets["two"]).table.assign(mask_path="")
    (tmp_path / "images").mkdir()
    for number, path in enumerate(table["image_path"]):
        data = (small_sets["two"].parent / path).read_bytes()
        (tmp_path / path).write_bytes(data[:100] if number else data)
    broken = write_manifest(table, tmp_path / "broken.csv")
    with pytest.raises(ValueError) as refused:
        build_report(broken, small_sets["real"], **workspace_caches)
    unreadable = tmp_path / table["image_path"][1]
    assert str(refused.value).startswith(f"The real set ({broken}) has 1 image that could be read, of 2 ({unreadable}: ")
    assert str(refused.value).endswith("; FID and KID need at least 2 in each set.")


def test_the_inception_score_is_in_the_summary_with_its_caveat_or_why_not(small_sets, workspace_caches):
    report, _ = build_report(small_sets["real"], small_sets["two"], **workspace_caches)
    logits = np.random.default_rng(0).normal(0, 3, (12, TF_CLASSES))  # as pytorch-fid's weights give them, for 12 images
    report["inception_score"] = inception_score_section(logits)
    line = next(line for line in summary_lines(report) if line.startswith("Inception Score"))
    assert line == (f"Inception Score {report['inception_score']['mean']:.2f} ± {report['inception_score']['std']:.2f} "
                    "(ImageNet classes say little about skin: read as a sanity check, not as quality)")
    report["inception_score"] = inception_score_section(logits[:2])
    assert "Inception Score not computable: its 10 splits need at least 10 images; this set has 2" in summary_lines(report)


def test_two_against_two_gives_kid_without_a_spread_it_cannot_know(small_sets, workspace_caches, tmp_path):
    """Subsets of two sets of two are those sets: KID is one number, shown without a "± 0" that would look exact."""
    real_two = write_manifest(read_manifest(small_sets["real"]).table.head(2), small_sets["real"].parent / "two-real.csv")
    report, _ = build_report(real_two, small_sets["two"], **workspace_caches)
    overall = next(g for g in report["groups"] if g["group"] == "overall")
    assert overall["kid"]["std"] is None and np.isfinite(overall["kid"]["mean"])
    line = next(line for line in summary_lines(report) if line.strip().startswith("overall:"))
    assert "(no ±: too few images for subsets that differ)" in line and "± 0" not in line, line
