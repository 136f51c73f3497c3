"""The `fairskin` console script as a user runs it: real processes, real files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import real_sample, source_tree_files

REPO = Path(__file__).resolve().parents[1]


def fairskin(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_phantoms_command_from_the_issue_is_reproducible(tmp_path):
    before = source_tree_files()
    runs = []
    for name in ("first", "second"):
        result = fairskin("phantoms", "--n", 200, "--preset", "ham10000", "--size", 128, "--seed", 1, "--out", tmp_path / name,
                          home=tmp_path / "home", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        runs.append(digests(tmp_path / name))
    assert runs[0] == runs[1]
    files = runs[0]
    assert sum(f.startswith("images/") for f in files) == 200
    assert sum(f.startswith("masks/") for f in files) == 200
    assert "manifest.csv" in files
    table = pd.read_csv(tmp_path / "first" / "manifest.csv")
    counts = table["fst"].value_counts().sort_index().to_dict()
    assert counts == {1: 40, 2: 84, 3: 48, 4: 20, 5: 6, 6: 2}  # 200 × (.20, .42, .24, .10, .03, .01)
    assert table["fst"].isin([5, 6]).mean() < 0.05
    assert source_tree_files() == before  # nothing written into the source tree


def test_manifest_check_passes_good_and_names_row_and_field_for_bad(tmp_path):
    out = tmp_path / "set"
    assert fairskin("phantoms", "--n", 12, "--size", 64, "--out", out, home=tmp_path, cwd=tmp_path).returncode == 0
    good = fairskin("manifest", "check", out / "manifest.csv", home=tmp_path, cwd=tmp_path)
    assert good.returncode == 0 and "12 rows, all valid" in good.stdout
    table = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    table.loc[3, "fst"] = "VII"
    table.loc[5, "image_path"] = "../../etc/passwd"
    table.to_csv(out / "bad.csv", index=False)
    bad = fairskin("manifest", "check", out / "bad.csv", home=tmp_path, cwd=tmp_path)
    assert bad.returncode == 1
    assert "row 4 (line 5)" in bad.stderr and "field 'fst'" in bad.stderr and "'VII'" in bad.stderr
    assert "row 6 (line 7)" in bad.stderr and "field 'image_path'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_failing_commands_leave_no_output(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    result = fairskin("phantoms", "--n", 4, "--out", existing, home=tmp_path, cwd=tmp_path)
    assert result.returncode == 1 and "--overwrite" in result.stderr
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]
    result = fairskin("phantoms", "--n", 0, "--out", tmp_path / "none", home=tmp_path, cwd=tmp_path)
    assert result.returncode == 1 and "at least 1" in result.stderr
    assert not (tmp_path / "none").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_help_lists_every_verb(tmp_path):
    result = fairskin("--help", home=tmp_path, cwd=tmp_path)
    for verb in ("serve", "phantoms", "import", "manifest", "ita", "train", "generate", "metrics", "lpips", "study", "admin"):
        assert verb in result.stdout
    readme = (REPO / "README.md").read_text()
    for verb in ("fairskin serve", "fairskin phantoms", "fairskin import", "fairskin manifest check", "fairskin study create",
                 "fairskin study add-reviewer", "fairskin study export", "fairskin study list", "fairskin admin create",
                 "fairskin ita MANIFEST", "fairskin ita calibrate", "fairskin metrics", "fairskin lpips", "fairskin generate",
                 "fairskin train"):
        assert verb in readme


def folder_state(folder: Path) -> list[tuple[str, int, int]]:
    """Every entry below ``folder`` with its size and modification time: any write shows."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in [folder, *folder.rglob("*")])


def test_import_command_on_the_real_ham10000_sample(tmp_path):
    """Straight from the (in CI read-only) shared copy into a project folder: nothing is written beside the images."""
    sample = real_sample("ham10000_sample70")
    before = folder_state(sample)
    result = fairskin("import", "ham10000", sample / "HAM10000_metadata_sample.csv", "--images", sample / "images",
                      "--out", tmp_path / "project" / "ham.csv", home=tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "70 imported" in result.stdout and "0 missing" in result.stdout
    assert folder_state(sample) == before
    check = fairskin("manifest", "check", tmp_path / "project" / "ham.csv", home=tmp_path, cwd=tmp_path)
    assert check.returncode == 0 and "70 rows, all valid" in check.stdout
    table = pd.read_csv(tmp_path / "project" / "ham.csv", dtype=str, keep_default_na=False)
    assert set(table["image_root"]) == {str((sample / "images").resolve())} and set(table["fst"]) == {""}
    # a manifest beside its images still stores plain relative paths
    shutil.copytree(sample / "images", tmp_path / "data" / "images")
    beside = fairskin("import", "ham10000", sample / "HAM10000_metadata_sample.csv", "--images", tmp_path / "data" / "images",
                      "--out", tmp_path / "data" / "ham.csv", home=tmp_path, cwd=tmp_path)
    assert beside.returncode == 0, beside.stderr
    table = pd.read_csv(tmp_path / "data" / "ham.csv", dtype=str, keep_default_na=False)
    assert set(table["image_root"]) == {""} and table["image_path"].str.startswith("images/ISIC_").all()
    missing = fairskin("import", "ham10000", sample / "HAM10000_metadata_sample.csv", "--images", tmp_path / "nowhere",
                       "--out", tmp_path / "x.csv", home=tmp_path, cwd=tmp_path)
    assert missing.returncode == 1 and "--images" in missing.stderr and "no such folder" in missing.stderr
    assert "Traceback" not in missing.stderr
