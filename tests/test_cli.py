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

from fairskin_core.phantoms.dataset import write_phantom_dataset
from review_data.accounts import authenticate, role_of
from review_data.session import ReviewError, item_at, save_rating
from review_data.store import ReviewStore

from .conftest import real_sample, source_tree_files

ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}

REPO = Path(__file__).resolve().parents[1]


def fairskin(*args: str, home: Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        input=stdin,
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


@pytest.mark.slow
def test_study_commands_follow_and_manage_a_running_study(tmp_path):
    """Practice images and the size warning at creation, then activity, passwords, accounts and closing, as an admin types them."""
    real = write_phantom_dataset(tmp_path / "real", n=40, preset="ham10000", size=64, seed=0, workers=1)
    synthetic = write_phantom_dataset(tmp_path / "synthetic", n=40, preset="balanced", size=64, seed=1, workers=1)
    home = tmp_path / "home"

    def run(*args, stdin=None):
        result = fairskin("study", *args, home=home, cwd=tmp_path, stdin=stdin)
        assert "Traceback" not in result.stderr
        return result

    created = run("create", "--name", "pilot", "--real", real, "--synthetic", synthetic, "--n-per-arm", 4, "--n-practice", 3)
    assert created.returncode == 0, created.stderr
    assert "4 real + 4 synthetic images and 3 practice images at 64 px" in created.stdout
    assert "warning:" in created.stderr and "too small for a clinical reading" in created.stderr
    assert run("add-reviewer", "--name", "pilot", "--username", "doc", "--password-stdin", stdin="password-doc\n").returncode == 0
    store = ReviewStore(home / "review.db")
    for position, seconds in enumerate((3.0, 6.0)):
        save_rating(store, "pilot", "doc", item_at(store, "pilot", "doc", position).image_id, ANSWERS, seconds)

    activity = run("activity", "--name", "pilot")
    assert activity.returncode == 0, activity.stderr
    header, row = activity.stdout.splitlines()
    assert header.split() == ["username", "rated", "total", "median_seconds", "last_active", "disabled", "practice_answered"]
    assert row.split()[:4] == ["doc", "2", "8", "4.5"] and row.split()[-2:] == ["False", "0"]

    assert run("reset-password", "--username", "doc", "--password-stdin", stdin="a new password\n").returncode == 0
    assert authenticate(store, "doc", "password-doc") is None and authenticate(store, "doc", "a new password") == "reviewer"
    short = run("reset-password", "--username", "doc", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    disabled = run("disable", "--username", "doc")
    assert disabled.returncode == 0 and "ratings are kept" in disabled.stdout
    assert role_of(store, "doc") is None and authenticate(store, "doc", "a new password") is None
    assert run("enable", "--username", "doc").returncode == 0 and role_of(store, "doc") == "reviewer"
    unknown = run("disable", "--username", "nobody")
    assert unknown.returncode == 1 and "no account named 'nobody'" in unknown.stderr

    closed, again = run("close", "--name", "pilot"), run("close", "--name", "pilot")
    assert closed.returncode == again.returncode == 0 and closed.stdout == again.stdout and "can no longer change" in closed.stdout
    with pytest.raises(ReviewError, match="This study is closed"):
        save_rating(store, "pilot", "doc", item_at(store, "pilot", "doc", 2).image_id, ANSWERS, 1.0)
    assert run("export", "--name", "pilot", "--out", tmp_path / "export").returncode == 0
    assert pd.read_csv(tmp_path / "export" / "study_summary.csv").iloc[1]["metric"] == "final"
    assert (tmp_path / "export" / "practice.csv").exists()
    missing = run("activity", "--name", "nosuch")
    assert missing.returncode == 1 and "no study named 'nosuch'" in missing.stderr
    helped = run("--help")
    for verb in ("activity", "reset-password", "disable", "enable", "close"):
        assert verb in helped.stdout


def test_bad_input_gets_one_line_naming_the_file_or_flag(tmp_path):
    """A damaged database, a seed too large, a CSV that is not UTF-8 or not CSV: one line each, no traceback."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "review.db").write_bytes(b"this is not a database, " * 100)
    for verb in (["study", "list"], ["study", "activity", "--name", "demo"], ["serve", "--port", "1"]):
        result = fairskin(*verb, home=home, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, verb
        assert f"{home / 'review.db'}: not a usable SQLite database" in result.stderr and "restore it from a backup" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    fresh = tmp_path / "fresh"
    big_seed = fairskin("phantoms", "--n", "2", "--seed", str(2**70), "--out", tmp_path / "p", home=fresh, cwd=tmp_path)
    assert big_seed.returncode == 2 and "--seed must be a whole number from 0 to 4,294,967,295" in big_seed.stderr
    assert "Traceback" not in big_seed.stderr and not (tmp_path / "p").exists()

    header = "image_id,image_path,diagnosis,malignant,fst,fst_source,source,dataset,split\n"
    latin = tmp_path / "latin1.csv"
    latin.write_bytes((header + "caf\xe9,x.png,nevus,false,,,real,d,\n").encode("latin-1"))
    huge = tmp_path / "huge.csv"
    huge.write_text(header + "a" * 1_000_001 + ",x.png,nevus,false,,,real,d,\n")
    for path, words in ((latin, "file: is not UTF-8 text (line 2)"), (huge, "line 2: cannot be read as CSV")):
        result = fairskin("manifest", "check", path, home=fresh, cwd=tmp_path)
        assert result.returncode == 1 and str(path) in result.stderr and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_serve_takes_several_data_roots_after_one_flag_as_its_help_says(capsys):
    from app.cli import build_parser

    parsed = build_parser().parse_args(["serve", "--data-root", "/data/a", "/data/b", "--data-root", "/data/c", "--port", "8000"])
    assert parsed.data_root == [Path("/data/a"), Path("/data/b"), Path("/data/c")] and parsed.port == 8000
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    assert "--data-root A B" in " ".join(capsys.readouterr().out.split())
