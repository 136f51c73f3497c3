"""The manifest loader refuses every kind of bad row with an error naming row and field."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fairskin_core.manifest import ManifestError, read_manifest, records_to_table, write_manifest

HEADER = "image_id,image_path,diagnosis,malignant,fst,fst_source,source,dataset,split"
GOOD_ROW = "a,img/a.png,melanoma,true,3,annotated,real,demo,train"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "img" / f"{name}.png")
    return tmp_path


def write_csv(folder: Path, *rows: str, header: str = HEADER) -> Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join((header,) + rows) + "\n", encoding="utf-8")
    return path


def problems(path: Path, **kwargs) -> list:
    with pytest.raises(ManifestError) as caught:
        read_manifest(path, **kwargs)
    return caught.value.issues


def test_good_manifest_reads_typed(folder):
    table = read_manifest(write_csv(folder, GOOD_ROW, "b,img/b.png,nevus,false,,,real,demo,")).table
    assert list(table["image_id"]) == ["a", "b"]
    assert table["malignant"].tolist() == [True, False]
    assert table.loc[0, "fst"] == 3 and pd.isna(table.loc[1, "fst"])
    assert table.loc[0, "fst_group"] == "III-IV" and table.loc[1, "fst_group"] == ""


@pytest.mark.parametrize("fst", ["VII", "0", "7", "-1", "3.5", "III"])
def test_unknown_fst_is_refused_naming_row_and_field(folder, fst):
    path = write_csv(folder, GOOD_ROW, f"b,img/b.png,nevus,false,{fst},annotated,real,demo,train")
    [issue] = problems(path)
    assert (issue.location, issue.field, issue.image_id) == ("row 2 (line 3)", "fst", "b")
    assert "1-6" in issue.message
    assert "row 2 (line 3) (image_id 'b'), field 'fst'" in str(ManifestError(str(path), [issue]))


def test_unknown_diagnosis(folder):
    [issue] = problems(write_csv(folder, "a,img/a.png,melanocytic_nevus,false,2,annotated,real,demo,"))
    assert issue.field == "diagnosis" and "nevus" in issue.message


@pytest.mark.parametrize(
    "path_text, words",
    [
        ("../../etc/passwd", "goes up out of the manifest's folder"),
        ("img/../../outside.png", "goes up out"),
        ("/etc/passwd", "absolute path"),
        ("C:/data/a.png", "Windows-style"),
        ("img\\a.png", "Windows-style"),
        ("", "is empty"),
    ],
)
def test_paths_that_escape_the_folder_are_refused(folder, path_text, words):
    [issue] = problems(write_csv(folder, f"a,{path_text},melanoma,true,3,annotated,real,demo,"))
    assert issue.field == "image_path" and words in issue.message


def test_symlink_leading_outside_is_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    Image.new("RGB", (4, 4)).save(outside / "secret.png")
    os.symlink(outside / "secret.png", folder / "img" / "link.png")
    [issue] = problems(write_csv(folder, "a,img/link.png,melanoma,true,3,annotated,real,demo,"))
    assert issue.field == "image_path" and "symbolic link" in issue.message


def test_missing_file(folder):
    [issue] = problems(write_csv(folder, "a,img/nothere.png,melanoma,true,3,annotated,real,demo,"))
    assert issue.field == "image_path" and "not found" in issue.message


def test_duplicate_ids_name_both_rows(folder):
    [issue] = problems(write_csv(folder, GOOD_ROW, "a,img/b.png,nevus,false,2,annotated,real,demo,"))
    assert issue.field == "image_id" and issue.location == "row 2 (line 3)"
    assert "first used at row 1 (line 2)" in issue.message


def test_file_that_is_not_an_image(folder):
    (folder / "img" / "notes.png").write_text("this is not a PNG")
    [issue] = problems(write_csv(folder, "a,img/notes.png,melanoma,true,3,annotated,real,demo,"))
    assert issue.field == "image_path" and "not a readable image" in issue.message


def test_truncated_image_is_caught_when_decoding(folder):
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(folder / "img" / "big.jpg", quality=95)
    data = (folder / "img" / "big.jpg").read_bytes()
    (folder / "img" / "cut.jpg").write_bytes(data[: len(data) // 2])
    path = write_csv(folder, "a,img/cut.jpg,melanoma,true,3,annotated,real,demo,")
    assert len(read_manifest(path, check_files="header")) == 1  # the header is intact
    [issue] = problems(path, check_files="decode")
    assert issue.field == "image_path" and "damaged or truncated" in issue.message


def _png_bomb(path: Path, side: int) -> None:
    """A valid 1-bit PNG of side × side pixels, all zero: a few hundred KB on disk."""
    raw = zlib.compress(b"".join(b"\x00" + bytes((side + 7) // 8) for _ in range(side)), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_without_decoding(folder):
    _png_bomb(folder / "img" / "bomb.png", 20_000)  # 400 megapixels
    assert (folder / "img" / "bomb.png").stat().st_size < 1_000_000
    for level in ("header", "decode"):
        [issue] = problems(write_csv(folder, "a,img/bomb.png,melanoma,true,3,annotated,real,demo,"), check_files=level)
        assert issue.field == "image_path" and "decompression bomb" in issue.message


def test_malignancy_must_agree_with_diagnosis(folder):
    [issue] = problems(write_csv(folder, "a,img/a.png,melanoma,false,3,annotated,real,demo,"))
    assert issue.field == "malignant" and "set malignant to true" in issue.message


def test_grouped_fst_keeps_only_the_group(folder):
    assert [i.field for i in problems(write_csv(folder, "a,img/a.png,nevus,false,,grouped,real,ddi,"))] == ["fst_group"]
    path = write_csv(folder, "a,img/a.png,nevus,false,,grouped,real,ddi,,V-VI", header=HEADER + ",fst_group")
    assert read_manifest(path).table.loc[0, "fst_group"] == "V-VI"
    path = write_csv(folder, "a,img/a.png,nevus,false,5,grouped,real,ddi,,V-VI", header=HEADER + ",fst_group")
    assert [i.field for i in problems(path)] == ["fst"]
    path = write_csv(folder, "a,img/a.png,nevus,false,2,annotated,real,ddi,,V-VI", header=HEADER + ",fst_group")
    assert [i.field for i in problems(path)] == ["fst_group"]


def test_synthetic_rows_need_provenance(folder):
    [issue] = problems(write_csv(folder, "a,img/a.png,melanoma,true,6,requested,synthetic,ours,"))
    assert issue.field == "model_id, model_hash, seed, scheduler, steps, guidance"
    header = HEADER + ",model_id,model_hash,seed,prompt,scheduler,steps,guidance"
    row = "a,img/a.png,melanoma,true,6,requested,synthetic,ours,,fairskin-default,3f2a,42,melanoma on FST VI,ddim,25,3.0"
    table = read_manifest(write_csv(folder, row, header=header)).table
    assert (table.loc[0, "seed"], table.loc[0, "steps"], table.loc[0, "guidance"]) == (42, 25, 3.0)


def test_header_and_shape_problems(folder):
    [issue] = problems(write_csv(folder, "a,img/a.png,melanoma", header="image_id,image_path,diagnosis"))
    assert issue.location == "header" and "malignant" in issue.field
    [issue] = problems(write_csv(folder, GOOD_ROW + ",extra"))
    assert "10 cells" in issue.message and "9 columns" in issue.message


def test_every_problem_is_listed_at_once(folder):
    path = write_csv(
        folder,
        "a,img/a.png,melanoma,true,VII,annotated,real,demo,train",
        "b,../../etc/passwd,nevi,maybe,0,annotated,real,,training",
    )
    fields = [(i.location.split()[1], i.field) for i in problems(path)]
    assert fields == [
        ("1", "fst"), ("2", "image_path"), ("2", "diagnosis"), ("2", "malignant"), ("2", "fst"), ("2", "dataset"), ("2", "split"),
    ]


def test_excel_bom_blank_lines_and_extra_columns(folder):
    path = folder / "manifest.csv"
    path.write_text("\ufeff" + HEADER + ",age\n" + GOOD_ROW + ",55\n\n", encoding="utf-8")
    table = read_manifest(path).table
    assert table.loc[0, "age"] == "55" and len(table) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(folder, suffix):
    table = read_manifest(write_csv(folder, GOOD_ROW, "b,img/b.png,nevus,false,,,real,demo,")).table
    written = write_manifest(table, folder / f"copy{suffix}")
    again = read_manifest(written).table
    pd.testing.assert_frame_equal(table, again)


def test_records_with_bad_rows_write_nothing(folder):
    records = [
        {"image_id": "a", "image_path": "img/a.png", "diagnosis": "melanoma", "malignant": True, "fst": 9,
         "fst_source": "annotated", "source": "real", "dataset": "demo", "split": ""},
    ]
    with pytest.raises(ManifestError, match="field 'fst'"):
        write_manifest(records_to_table(records, folder), folder / "out.csv")
    assert not (folder / "out.csv").exists()


def test_failed_write_keeps_the_old_file_and_leaves_no_partial(folder):
    table = read_manifest(write_csv(folder, GOOD_ROW)).table
    target = folder / "kept.csv"
    target.write_text("previous content\n")

    class Unprintable:  # a cell that cannot be written forces a failure mid-write
        def __str__(self):
            raise RuntimeError("boom")

    broken = table.copy()
    broken["diagnosis"] = [Unprintable()]
    with pytest.raises(RuntimeError):
        write_manifest(broken, target)
    assert target.read_text() == "previous content\n"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


# --- image roots: manifests anywhere, images on another (read-only) disk -------------------------

ROOTED_HEADER = HEADER + ",image_root"


def test_image_root_absolute_or_relative_to_the_manifest(folder, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    absolute = f"a,a.png,melanoma,true,3,annotated,real,demo,train,{folder / 'img'}"
    relative = f"b,b.png,nevus,false,,,real,demo,,{os.path.relpath(folder / 'img', project)}"
    manifest = read_manifest(write_csv(project, absolute, relative, header=ROOTED_HEADER), check_files="decode")
    assert [p.resolve() for p in manifest.image_files()] == [folder / "img" / "a.png", folder / "img" / "b.png"]
    assert manifest.image_file("a.png", str(folder / "img")) == folder / "img" / "a.png"


def test_paths_may_not_leave_their_image_root(folder, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    issues = problems(write_csv(project, f"a,../img/a.png,melanoma,true,3,annotated,real,demo,,{folder / 'img'}",
                                f"b,b.png,nevus,false,,,real,demo,,{folder / 'nowhere'}", header=ROOTED_HEADER))
    assert [(i.location, i.field) for i in issues] == [("row 1 (line 2)", "image_path"), ("row 2 (line 3)", "image_root")]
    assert f"goes up out of its image_root '{folder / 'img'}'" in issues[0].message
    assert "is not a folder" in issues[1].message
    outside = tmp_path_factory.mktemp("outside")
    Image.new("RGB", (8, 8)).save(outside / "x.png")
    (folder / "img" / "link.png").symlink_to(outside / "x.png")
    [issue] = problems(write_csv(project, f"a,link.png,melanoma,true,3,annotated,real,demo,,{folder / 'img'}", header=ROOTED_HEADER))
    assert issue.field == "image_path" and "leads outside its image_root" in issue.message


def test_allowed_roots_keep_the_app_inside_its_folders(folder, tmp_path_factory):
    """What the web app passes: neither the manifest nor any image root may lie outside."""
    images_elsewhere = tmp_path_factory.mktemp("elsewhere")
    Image.new("RGB", (8, 8)).save(images_elsewhere / "e.png")
    inside_row = "a,img/a.png,melanoma,true,3,annotated,real,demo,train,"
    outside_row = f"e,e.png,nevus,false,,,real,demo,,{images_elsewhere}"
    path = write_csv(folder, inside_row, outside_row, header=ROOTED_HEADER)
    assert len(read_manifest(path, allowed_roots=[folder, images_elsewhere])) == 2
    [issue] = problems(path, allowed_roots=[folder])
    assert (issue.location, issue.field) == ("row 2 (line 3)", "image_root")
    assert "outside the folders this app may read" in issue.message and "--data-root" in issue.message
    [issue] = problems(path, allowed_roots=[images_elsewhere])
    assert issue.location == "file" and "--data-root" in issue.message
    # a symbolic link inside an allowed folder does not open the way out
    (folder / "door").symlink_to(images_elsewhere)
    linked = write_csv(folder, inside_row, "e,e.png,nevus,false,,,real,demo,,door", header=ROOTED_HEADER)
    [issue] = problems(linked, allowed_roots=[folder])
    assert issue.field == "image_root" and "outside the folders this app may read" in issue.message
