"""Dataset importers: fixture metadata in each dataset's exact public format (with its real
oddities), tiny images written here, and the real metadata files where they are available."""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fairskin_core.diagnoses import DIAGNOSES, MALIGNANCY
from fairskin_core.importers import (
    FORMATS,
    DatasetImportError,
    MetadataError,
    ddi,
    fitzpatrick17k,
    ham10000,
    import_dataset,
    isic2016,
    isic2017,
    isic2018,
    isic2019,
    isic2020,
    pad_ufes20,
    scin,
)
from fairskin_core.manifest import read_manifest

from .conftest import real_sample

DOCS = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"
MODULES = (ham10000, isic2016, isic2017, isic2018, isic2019, isic2020, fitzpatrick17k, ddi, pad_ufes20, scin)


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8", newline="")
    return path


def images(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 4), (180, 120, 90)).save(path)


def row_of(table, image_id: str) -> dict:
    found = table[table["image_id"] == image_id]
    assert len(found) == 1, image_id
    return found.iloc[0].to_dict()


def read_missing(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def refused(tmp_path: Path, fmt: str, metadata, *, issues: list[tuple[str, str]], hint: str, image_dir="images"):
    """Import must fail naming the metadata file and each (location, field), writing nothing."""
    (tmp_path / image_dir).mkdir(exist_ok=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(MetadataError) as caught:
        import_dataset(fmt, metadata, tmp_path / image_dir, tmp_path / "manifest.csv")
    error = caught.value
    if isinstance(metadata, Path):
        assert str(metadata) in str(error)
    assert [(i.location, i.field) for i in error.issues] == issues
    assert hint in str(error)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    return error


# --- HAM10000 ----------------------------------------------------------------------------------

HAM = (
    "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset\n"
    "HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern\n"
    "HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp,vidir_modern\n"
    'HAM_0002730,ISIC_0026769,akiec,histo,,unknown,"lower extremity",rosendahl\n'
    "HAM_0001466,ISIC_0031633,mel,histo,75.0,female,unknown,vidir_modern\n"
    "\n"
    "HAM_0002761,ISIC_0029176,nv,follow_up,60.0,female,back,vidir_molemax\n"
    'HAM_0005132,ISIC_0025837,vasc,consensus,45.0,male,"upper extremity",vidir_molemax\n'
)


@pytest.fixture
def ham(tmp_path):
    """HAM10000 metadata with a BOM, quoted cells, an empty age and "unknown"s; images in the two
    part folders as shipped, one image missing."""
    metadata = write(tmp_path / "HAM10000_metadata.csv", HAM, bom=True)
    images(tmp_path / "data/images/HAM10000_images_part_1", "ISIC_0027419.jpg", "ISIC_0025030.jpg", "ISIC_0026769.jpg")
    images(tmp_path / "data/images/HAM10000_images_part_2", "ISIC_0031633.jpg", "ISIC_0029176.jpg")
    return metadata, tmp_path / "data/images", tmp_path / "data/manifest.csv"


def test_formats_lists_every_importer():
    assert FORMATS == (
        "ham10000", "isic2016", "isic2017", "isic2018", "isic2019", "isic2020", "fitzpatrick17k", "ddi", "pad-ufes-20", "scin",
    )


def test_ham10000_import(ham):
    metadata, image_dir, out = ham
    report = import_dataset("ham10000", metadata, image_dir, out)
    assert (report.rows_read, report.images_listed, report.images_imported, report.images_missing) == (6, 6, 5, 1)
    assert report.fst_counts == {"unknown": 6}
    assert report.diagnosis_counts == {
        "melanoma": 1,
        "nevus": 1,
        "actinic_keratosis": 1,
        "seborrheic_keratosis": 2,
        "vascular_lesion": 1,
    }
    table = read_manifest(out, check_files="decode").table
    assert len(table) == 5
    akiec = row_of(table, "ISIC_0026769")
    assert akiec["image_path"] == "images/HAM10000_images_part_1/ISIC_0026769.jpg"
    assert (akiec["diagnosis"], akiec["malignant"], akiec["dataset_label"]) == ("actinic_keratosis", True, "akiec")
    assert (akiec["age"], akiec["sex"], akiec["anatomical_site"]) == ("", "", "lower extremity")
    assert pd.isna(akiec["fst"]) and akiec["fst_group"] == "" and akiec["fst_source"] == ""
    assert (akiec["source"], akiec["dataset"], akiec["split"], akiec["collection"]) == (
        "real",
        "ham10000",
        "",
        "rosendahl",
    )
    mel = row_of(table, "ISIC_0031633")
    assert mel["image_path"] == "images/HAM10000_images_part_2/ISIC_0031633.jpg"
    assert (mel["diagnosis"], mel["malignant"], mel["age"], mel["anatomical_site"]) == ("melanoma", True, "75", "")
    assert list(table.loc[table["lesion_id"] == "HAM_0000118", "image_id"]) == ["ISIC_0027419", "ISIC_0025030"]
    assert set(table.loc[table["dataset_label"] == "bkl", "diagnosis"]) == {"seborrheic_keratosis"}
    assert not table.loc[table["dataset_label"] == "bkl", "malignant"].any()
    assert report.missing_list == out.with_name("manifest.missing.csv")
    assert read_missing(report.missing_list) == [
        {"image_id": "ISIC_0025837", "expected_file": "ISIC_0025837.jpg", "metadata_row": "row 7 (line 8)", "reason": "not found"}
    ]
    assert "1 missing" in report.summary()


def test_strict_import_refuses_missing_images_and_writes_nothing(ham):
    metadata, image_dir, out = ham
    with pytest.raises(DatasetImportError, match=r"1 of the 6 images .* ISIC_0025837\.jpg"):
        import_dataset("ham10000", metadata, image_dir, out, strict=True)
    assert not out.exists() and not out.with_name("manifest.missing.csv").exists()
    images(image_dir, "ISIC_0025837.jpg")
    report = import_dataset("ham10000", metadata, image_dir, out, strict=True)
    assert report.images_missing == 0 and read_missing(report.missing_list) == []


def test_failed_import_keeps_existing_outputs(ham):
    metadata, image_dir, out = ham
    out.write_text("old manifest")
    out.with_name("manifest.missing.csv").write_text("old list")
    write(metadata, HAM.replace("ISIC_0031633,mel", "ISIC_0031633,melanoma"))
    with pytest.raises(MetadataError):
        import_dataset("ham10000", metadata, image_dir, out)
    assert out.read_text() == "old manifest"
    assert out.with_name("manifest.missing.csv").read_text() == "old list"
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".partial")] == []


def _listing_with_times(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in [folder, *folder.rglob("*")])


def test_a_manifest_elsewhere_records_the_image_folder_as_its_root(ham, tmp_path):
    metadata, image_dir, _ = ham
    before = _listing_with_times(image_dir)
    out = tmp_path / "project" / "ham.csv"
    report = import_dataset("ham10000", metadata, image_dir, out)
    assert report.images_imported == 5 and _listing_with_times(image_dir) == before  # nothing written there
    table = read_manifest(out, check_files="decode").table
    assert set(table["image_root"]) == {str(image_dir.resolve())}
    assert row_of(table, "ISIC_0031633")["image_path"] == "HAM10000_images_part_2/ISIC_0031633.jpg"
    moved = tmp_path / "moved" / "ham.csv"  # an absolute root keeps working wherever the manifest goes
    moved.parent.mkdir()
    shutil.copy(out, moved)
    assert read_manifest(moved, check_files="decode").image_files() == read_manifest(out).image_files()


def test_images_in_several_folders_each_keep_their_own_root(ham, tmp_path):
    metadata, image_dir, _ = ham
    parts = [image_dir / "HAM10000_images_part_1", image_dir / "HAM10000_images_part_2"]
    report = import_dataset("ham10000", metadata, parts, tmp_path / "project" / "ham.csv")
    table = read_manifest(report.manifest).table
    assert report.images_imported == 5
    assert row_of(table, "ISIC_0031633")["image_root"] == str(parts[1].resolve())
    assert row_of(table, "ISIC_0027419")["image_root"] == str(parts[0].resolve())
    assert set(table["image_path"]) == {f"{i}.jpg" for i in table["image_id"]}


def test_a_file_linking_out_of_its_image_folder_is_refused(ham, tmp_path):
    metadata, image_dir, _ = ham
    images(tmp_path / "secret", "ISIC_0025837.jpg")
    (image_dir / "ISIC_0025837.jpg").symlink_to(tmp_path / "secret" / "ISIC_0025837.jpg")
    out = tmp_path / "project" / "ham.csv"
    with pytest.raises(DatasetImportError, match=r"ISIC_0025837\.jpg links to .*secret.*outside"):
        import_dataset("ham10000", metadata, image_dir, out)
    assert not out.exists()


def test_no_image_found_says_to_check_images(ham, tmp_path):
    metadata, _, out = ham
    (tmp_path / "data/empty").mkdir()
    with pytest.raises(DatasetImportError, match=r"none of the 6 images .* check images"):
        import_dataset("ham10000", metadata, tmp_path / "data/empty", out)
    assert not out.exists()


def test_two_files_with_the_same_name_are_ambiguous(ham):
    metadata, image_dir, out = ham
    images(image_dir / "HAM10000_images_part_2", "ISIC_0027419.jpg")
    with pytest.raises(DatasetImportError, match="ambiguous"):
        import_dataset("ham10000", metadata, image_dir, out)
    assert not out.exists()


def test_output_may_not_overwrite_the_metadata(ham, tmp_path):
    metadata, _, _ = ham
    images(tmp_path / "images", "ISIC_0027419.jpg")
    with pytest.raises(DatasetImportError, match="overwrite the metadata"):
        import_dataset("ham10000", metadata, tmp_path / "images", metadata)
    assert metadata.read_text(encoding="utf-8-sig") == HAM


def test_usage_errors(ham):
    metadata, image_dir, out = ham
    with pytest.raises(DatasetImportError, match="unknown format 'ham'; use one of ham10000"):
        import_dataset("ham", metadata, image_dir, out)
    with pytest.raises(DatasetImportError, match="takes one metadata file, not 2"):
        import_dataset("ham10000", [metadata, metadata], image_dir, out)
    with pytest.raises(DatasetImportError, match="no such folder"):
        import_dataset("ham10000", metadata, image_dir / "nope", out)


def test_parquet_manifest(ham):
    metadata, image_dir, out = ham
    report = import_dataset("ham10000", metadata, image_dir, out.with_suffix(".parquet"))
    assert report.missing_list.name == "manifest.missing.csv"
    assert len(read_manifest(out.with_suffix(".parquet")).table) == 5


def test_ham10000_bad_metadata(tmp_path):
    bad = HAM.replace("ISIC_0031633,mel,", "ISIC_0031633,MEL,").replace(
        "ISIC_0029176,nv,follow_up,60.0", "ISIC_0029176,nv,follow_up,sixty"
    )
    error = refused(
        tmp_path,
        "ham10000",
        write(tmp_path / "m.csv", bad),
        issues=[("row 4 (line 5)", "dx"), ("row 6 (line 7)", "age")],
        hint="expected one of akiec, bcc, bkl, df, mel, nv, vasc",
    )
    assert "'sixty' is not an age in years" in str(error)


def test_missing_column_is_named(tmp_path):
    metadata = write(tmp_path / "m.csv", HAM.replace(",dx,", ",diagnosis,", 1))
    refused(
        tmp_path,
        "ham10000",
        metadata,
        issues=[("header", "dx")],
        hint="check that this is the right file for format ham10000",
    )


def test_repeated_image_is_refused(tmp_path):
    metadata = write(tmp_path / "m.csv", HAM + "HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern\n")
    refused(
        tmp_path,
        "ham10000",
        metadata,
        issues=[("row 8 (line 9)", "image_id")],
        hint="repeats the image of row 1 (line 2)",
    )


def test_ragged_row_is_refused(tmp_path):
    metadata = write(tmp_path / "m.csv", HAM + "HAM_0000119,ISIC_0027420,bkl,histo\n")
    refused(tmp_path, "ham10000", metadata, issues=[("row 8 (line 9)", "-")], hint="has 4 cells")


def test_non_utf8_metadata_is_refused(tmp_path):
    metadata = tmp_path / "m.csv"
    metadata.write_bytes(HAM.replace("scalp", "sc\xe4lp").encode("latin-1"))
    refused(tmp_path, "ham10000", metadata, issues=[("file", "-")], hint="save it as UTF-8")


# --- ISIC 2019 ---------------------------------------------------------------------------------

ISIC2019 = (
    "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\n"
    "ISIC_0000000,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\n"
    "ISIC_0000002,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\n"
    "ISIC_0000017_downsampled,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\n"
    "ISIC_0010491,0,0,0,1,0,0,0,0,0\n"
    "ISIC_0024318,0.0,0.0,0.0,0.0,0.0,1.0,0.0,0.0,0.0\n"
    "ISIC_0053454,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0\n"
    "ISIC_0070000,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0\n"
)


def test_isic2019_import(tmp_path):
    metadata = write(tmp_path / "ISIC_2019_Training_GroundTruth.csv", ISIC2019)
    images(
        tmp_path / "ISIC_2019_Training_Input",
        "ISIC_0000000.jpg",
        "ISIC_0000002.jpg",
        "ISIC_0000017_downsampled.jpg",
        "ISIC_0010491.jpg",
        "ISIC_0024318.jpg",
        "ISIC_0053454.jpg",
        "ISIC_0070000.jpg",
    )
    report = import_dataset("isic2019", metadata, tmp_path / "ISIC_2019_Training_Input", tmp_path / "isic.csv")
    assert (report.images_imported, report.images_missing) == (7, 0)
    table = read_manifest(tmp_path / "isic.csv").table
    down = row_of(table, "ISIC_0000017_downsampled")
    assert down["image_path"] == "ISIC_2019_Training_Input/ISIC_0000017_downsampled.jpg"
    assert (down["diagnosis"], down["malignant"], down["dataset_label"]) == ("nevus", False, "NV")
    expected = {
        "ISIC_0000002": ("melanoma", True, "MEL"),
        "ISIC_0010491": ("actinic_keratosis", True, "AK"),
        "ISIC_0024318": ("dermatofibroma", False, "DF"),
        "ISIC_0053454": ("squamous_cell_carcinoma", True, "SCC"),
    }
    for image_id, labels in expected.items():
        row = row_of(table, image_id)
        assert (row["diagnosis"], row["malignant"], row["dataset_label"]) == labels
    unk = row_of(table, "ISIC_0070000")  # UNK says nothing about malignancy
    assert (unk["diagnosis"], unk["dataset_label"]) == ("other", "UNK") and pd.isna(unk["malignant"])
    assert report.fst_counts == {"unknown": 7}


def test_isic2019_malformed_one_hot(tmp_path):
    bad = (
        ISIC2019.replace("ISIC_0000002,1.0,0.0", "ISIC_0000002,1.0,1.0")
        .replace("ISIC_0024318,0.0,0.0,0.0,0.0,0.0,1.0", "ISIC_0024318,0.0,0.0,0.0,0.0,0.0,0.0")
        .replace("ISIC_0053454,0.0", "ISIC_0053454,0.5")
    )
    error = refused(
        tmp_path,
        "isic2019",
        write(tmp_path / "gt.csv", bad),
        issues=[
            ("row 2 (line 3)", "MEL, NV"),
            ("row 5 (line 6)", "MEL, NV, BCC, AK, BKL, DF, VASC, SCC, UNK"),
            ("row 6 (line 7)", "MEL"),
        ],
        hint="exactly one of MEL, NV, BCC, AK, BKL, DF, VASC, SCC, UNK must be 1.0",
    )
    assert "'0.5' is not a one-hot value" in str(error)


# --- ISIC 2020 ---------------------------------------------------------------------------------

ISIC2020 = (
    "image_name,patient_id,sex,age_approx,anatom_site_general_challenge,diagnosis,benign_malignant,target\n"
    "ISIC_2637011,IP_7279968,male,45.0,head/neck,unknown,benign,0\n"
    "ISIC_0052212,IP_2842074,female,50.0,lower extremity,nevus,benign,0\n"
    "ISIC_0149568,IP_0962375,female,55.0,upper extremity,melanoma,malignant,1\n"
    "ISIC_0171983,IP_7665112,male,70.0,head/neck,seborrheic keratosis,benign,0\n"
    "ISIC_0088137,IP_5205991,,,lower extremity,lentigo NOS,benign,0\n"
    "ISIC_0086462,IP_3200260,female,30.0,,lichenoid keratosis,benign,0\n"
    "ISIC_0201000,IP_0000001,female,60,torso,solar lentigo,benign,0\n"
    "ISIC_0202000,IP_0000002,male,35,torso,cafe-au-lait macule,benign,0\n"
    "ISIC_0203000,IP_0000003,male,40,palms/soles,atypical melanocytic proliferation,benign,0\n"
)


def test_isic2020_import(tmp_path):
    metadata = write(tmp_path / "ISIC_2020_Training_GroundTruth.csv", ISIC2020)
    names = re.findall(r"^(ISIC_\d+),", ISIC2020, flags=re.M)
    images(tmp_path / "train", *(f"{n}.jpg" for n in names))
    report = import_dataset("isic2020", metadata, tmp_path / "train", tmp_path / "m.csv")
    assert report.images_imported == 9
    assert report.diagnosis_counts == {"melanoma": 1, "nevus": 1, "seborrheic_keratosis": 3, "other": 4}
    table = read_manifest(tmp_path / "m.csv").table
    expected = {
        "ISIC_2637011": ("other", False, "unknown"),
        "ISIC_0052212": ("nevus", False, "nevus"),
        "ISIC_0149568": ("melanoma", True, "melanoma"),
        "ISIC_0171983": ("seborrheic_keratosis", False, "seborrheic keratosis"),
        "ISIC_0088137": ("other", False, "lentigo NOS"),
        "ISIC_0086462": ("seborrheic_keratosis", False, "lichenoid keratosis"),
        "ISIC_0201000": ("seborrheic_keratosis", False, "solar lentigo"),
        "ISIC_0202000": ("other", False, "cafe-au-lait macule"),
        "ISIC_0203000": ("other", False, "atypical melanocytic proliferation"),
    }
    for image_id, labels in expected.items():
        row = row_of(table, image_id)
        assert (row["diagnosis"], row["malignant"], row["dataset_label"]) == labels
    empty = row_of(table, "ISIC_0088137")
    assert (empty["patient_id"], empty["sex"], empty["age"], empty["anatomical_site"]) == (
        "IP_5205991",
        "",
        "",
        "lower extremity",
    )
    assert row_of(table, "ISIC_2637011")["age"] == "45"


def test_isic2020_contradictions(tmp_path):
    bad = (
        ISIC2020.replace("unknown,benign,0", "unknown,benign,1")
        .replace("melanoma,malignant,1", "melanoma,benign,0")
        .replace("solar lentigo,benign", "basal cell carcinoma,malignant")
    )
    error = refused(
        tmp_path,
        "isic2020",
        write(tmp_path / "gt.csv", bad),
        issues=[("row 1 (line 2)", "target"), ("row 3 (line 4)", "benign_malignant"), ("row 7 (line 8)", "diagnosis")],
        hint="disagrees with benign_malignant 'benign'",
    )
    assert "melanoma, which is always malignant" in str(error)


# --- Fitzpatrick 17k ---------------------------------------------------------------------------

FITZ_HEADER = (
    "md5hash,fitzpatrick_scale,fitzpatrick_centaur,label,nine_partition_label,"
    "three_partition_label,qc,url,url_alphanum\n"
)
FITZ = FITZ_HEADER + (
    "5e82a45bc5d78bd24ae9202d194423f8,3,3,drug induced pigmentary changes,inflammatory,non-neoplastic,,"
    "https://www.dermaamin.com/site/images/clinical-pic/m/minocycline-pigmentation/minocycline-pigmentation1.jpg,"
    "httpwwwdermaamincomsiteimagesclinicalpicmminocyclinepigmentationminocyclinepigmentation1jpg.jpg\n"
    "d2bac3c9e4499032ca8e9b07c7d3bc40,2,3,dermatofibroma,benign dermal,benign,,https://example.org/df71.jpg,x.jpg\n"
    "a1,-1,-1,kaposi sarcoma,malignant dermal,malignant,1 Diagnostic,https://example.org/ks.jpg,x.jpg\n"
    "a2,6,5,lentigo maligna,malignant melanoma,malignant,,https://example.org/lm.jpg,x.jpg\n"
    'a3,5,-1,"granuloma pyogenic",benign dermal,benign,,https://example.org/pg.jpg,x.jpg\n'
    "a4,1,2,becker nevus,benign dermal,benign,3 Wrongly labelled,https://example.org/bn.jpg,x.jpg\n"
    "a5,4,4,actinic keratosis,malignant epidermal,malignant,,https://example.org/ak.jpg,x.jpg\n"
)


def test_fitzpatrick17k_import(tmp_path):
    metadata = write(tmp_path / "fitzpatrick17k.csv", FITZ)
    images(tmp_path / "images", "5e82a45bc5d78bd24ae9202d194423f8.jpg", "a1.jpg", "a2.jpg", "a3.jpg", "a5.jpg")
    report = import_dataset("fitzpatrick17k", metadata, tmp_path / "images", tmp_path / "m.csv")
    assert (report.images_imported, report.images_missing) == (5, 2)
    assert report.fst_counts == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "unknown": 1}
    table = read_manifest(tmp_path / "m.csv").table
    expected = {
        "5e82a45bc5d78bd24ae9202d194423f8": ("other", False, 3, "III-IV", "annotated", "3"),
        "a1": ("other", True, None, "", "", "-1"),
        "a2": ("melanoma", True, 6, "V-VI", "annotated", "5"),
        "a3": ("vascular_lesion", False, 5, "V-VI", "annotated", "-1"),
        "a5": ("actinic_keratosis", True, 4, "III-IV", "annotated", "4"),
    }
    for image_id, (diagnosis, malignant, fst, group, source, centaur) in expected.items():
        row = row_of(table, image_id)
        assert (row["diagnosis"], row["malignant"], row["fst_group"], row["fst_source"]) == (
            diagnosis,
            malignant,
            group,
            source,
        )
        assert (None if pd.isna(row["fst"]) else row["fst"]) == fst
        assert row["fitzpatrick_centaur"] == centaur
    assert row_of(table, "a1")["qc"] == "1 Diagnostic"
    assert row_of(table, "a3")["dataset_label"] == "granuloma pyogenic"
    assert [m["image_id"] for m in read_missing(report.missing_list)] == ["d2bac3c9e4499032ca8e9b07c7d3bc40", "a4"]


def test_fitzpatrick17k_dead_link_saved_as_html_counts_as_missing(tmp_path):
    metadata = write(tmp_path / "fitzpatrick17k.csv", FITZ)
    images(tmp_path / "images", "a1.jpg", "a2.jpg")
    (tmp_path / "images" / "a3.jpg").write_text("<html><body>404 Not Found</body></html>")
    report = import_dataset("fitzpatrick17k", metadata, tmp_path / "images", tmp_path / "m.csv")
    assert (report.images_imported, report.images_missing) == (2, 5)
    reasons = {m["image_id"]: m["reason"] for m in read_missing(report.missing_list)}
    assert "not a readable image" in reasons["a3"] and reasons["a4"] == "not found"
    assert set(read_manifest(tmp_path / "m.csv", check_files="decode").table["image_id"]) == {"a1", "a2"}
    with pytest.raises(DatasetImportError, match=r"a3\.jpg \(not a readable image"):
        import_dataset("fitzpatrick17k", metadata, tmp_path / "images", tmp_path / "strict.csv", strict=True)
    assert not (tmp_path / "strict.csv").exists()


def test_fitzpatrick17k_bad_skin_type(tmp_path):
    bad = (
        FITZ.replace("a2,6,5", "a2,VII,5")
        .replace("a4,1,2", "a4,7,2")
        .replace(
            "a5,4,4,actinic keratosis,malignant epidermal,malignant",
            "a5,4,4,actinic keratosis,malignant epidermal,premalignant",
        )
    )
    error = refused(
        tmp_path,
        "fitzpatrick17k",
        write(tmp_path / "f.csv", bad),
        issues=[
            ("row 4 (line 5)", "fitzpatrick_scale"),
            ("row 6 (line 7)", "fitzpatrick_scale"),
            ("row 7 (line 8)", "three_partition_label"),
        ],
        hint="'VII' is not a Fitzpatrick skin type; write 1-6 for types I-VI, or -1",
    )
    assert "'7' is not a Fitzpatrick skin type" in str(error)


# --- DDI ---------------------------------------------------------------------------------------

DDI = (
    ",DDI_ID,DDI_file,skin_tone,malignant,disease\n"
    "0,1,000001.png,56,True,melanoma-in-situ\n"
    "2,3,000003.png,56,True,mycosis-fungoides\n"
    "35,36,000036.png,34,False,melanocytic-nevi\n"
    "172,173,000173.png,56,TRUE,atypical-spindle-cell-nevus-of-reed\n"
    "263,264,000264.png,12,False,actinic-keratosis\n"
    "86,87,000087.png,12,FALSE,pyogenic-granuloma\n"
)


def test_ddi_import(tmp_path):
    metadata = write(tmp_path / "ddi_metadata.csv", DDI)
    images(tmp_path / "ddi", "000001.png", "000003.png", "000036.png", "000173.png", "000264.png", "000087.png")
    report = import_dataset("ddi", metadata, tmp_path / "ddi", tmp_path / "m.csv")
    assert report.fst_counts == {"I-II": 2, "III-IV": 1, "V-VI": 3}
    table = read_manifest(tmp_path / "m.csv").table
    expected = {
        "000001": ("melanoma", True, "V-VI"),
        "000003": ("other", True, "V-VI"),
        "000036": ("nevus", False, "III-IV"),
        "000173": ("other", True, "V-VI"),
        "000264": ("actinic_keratosis", False, "I-II"),
        "000087": ("vascular_lesion", False, "I-II"),
    }
    for image_id, (diagnosis, malignant, group) in expected.items():
        row = row_of(table, image_id)
        assert (row["diagnosis"], row["malignant"], row["fst_group"], row["fst_source"]) == (
            diagnosis,
            malignant,
            group,
            "grouped",
        )
        assert pd.isna(row["fst"])
    assert row_of(table, "000173")["dataset_label"] == "atypical-spindle-cell-nevus-of-reed"
    assert row_of(table, "000001")["image_path"] == "ddi/000001.png"


def test_ddi_bad_rows(tmp_path):
    bad = (
        DDI.replace("0,1,000001.png,56,True", "0,1,000001.png,56,False")
        .replace("35,36,000036.png,34", "35,36,000036.png,78")
        .replace("263,264,000264.png,12,False", "263,264,000264.png,12,yes")
    )
    error = refused(
        tmp_path,
        "ddi",
        write(tmp_path / "ddi.csv", bad),
        issues=[("row 1 (line 2)", "malignant"), ("row 3 (line 4)", "skin_tone"), ("row 5 (line 6)", "malignant")],
        hint="'78' is not a ddi skin_tone value; expected one of 12, 34, 56",
    )
    assert "melanoma, which is always malignant" in str(error)


# --- PAD-UFES-20 -------------------------------------------------------------------------------

PAD = (
    "patient_id,lesion_id,smoke,drink,background_father,background_mother,age,pesticide,gender,"
    "skin_cancer_history,cancer_history,has_piped_water,has_sewage_system,fitspatrick,region,diameter_1,"
    "diameter_2,diagnostic,itch,grew,hurt,changed,bleed,elevation,img_id,biopsed\n"
    "PAT_1516,1765,,,,,8,,,,,,,,ARM,,,NEV,False,False,False,False,False,False,PAT_1516_1765_530.png,False\n"
    "PAT_46,881,False,False,POMERANIA,POMERANIA,55,False,FEMALE,True,True,True,True,3.0,NECK,6.0,5.0,BCC,"
    "True,True,False,True,True,True,PAT_46_881_939.png,True\n"
    "PAT_46,881,False,False,POMERANIA,POMERANIA,55,False,FEMALE,True,True,True,True,3.0,NECK,6.0,5.0,BCC,"
    "True,UNK,False,UNK,True,True,PAT_46_881_940.png,True\n"
    "PAT_1545,1867,,,,,77,,,,,,,,FACE,,,ACK,True,False,False,False,False,False,PAT_1545_1867_547.png,False\n"
    "PAT_9,12,False,False,ITALY,UNK,60,False,MALE,False,False,True,True,6.0,BACK,9.0,8.0,MEL,"
    "False,True,False,True,False,True,PAT_9_12_1.png,True\n"
)


def test_pad_ufes20_import(tmp_path):
    metadata = write(tmp_path / "metadata.csv", PAD)
    images(tmp_path / "images/imgs_part_1", "PAT_1516_1765_530.png", "PAT_46_881_939.png")
    images(tmp_path / "images/imgs_part_3", "PAT_46_881_940.png", "PAT_1545_1867_547.png", "PAT_9_12_1.png")
    report = import_dataset("pad-ufes-20", metadata, tmp_path / "images", tmp_path / "pad.csv")
    assert report.fst_counts == {"3": 2, "6": 1, "unknown": 2}
    table = read_manifest(tmp_path / "pad.csv", check_files="decode").table
    bcc = row_of(table, "PAT_46_881_940")
    assert bcc["image_path"] == "images/imgs_part_3/PAT_46_881_940.png"
    assert (bcc["diagnosis"], bcc["malignant"], bcc["fst"], bcc["fst_group"], bcc["fst_source"]) == (
        "basal_cell_carcinoma",
        True,
        3,
        "III-IV",
        "annotated",
    )
    assert (bcc["patient_id"], bcc["lesion_id"], bcc["sex"], bcc["anatomical_site"], bcc["biopsied"]) == (
        "PAT_46",
        "881",
        "female",
        "NECK",
        "true",
    )
    assert (bcc["itch"], bcc["grew"], bcc["changed"]) == ("true", "", "")
    ack = row_of(table, "PAT_1545_1867_547")
    assert (ack["diagnosis"], ack["malignant"], ack["fst_source"], ack["sex"], ack["age"]) == (
        "actinic_keratosis",
        False,
        "",
        "",
        "77",
    )
    assert pd.isna(ack["fst"])
    assert (row_of(table, "PAT_9_12_1")["fst"], row_of(table, "PAT_9_12_1")["malignant"]) == (6, True)


def test_pad_ufes20_bad_rows(tmp_path):
    bad = (
        PAD.replace("True,True,True,True,3.0,NECK", "True,True,True,True,3.5,NECK", 1)
        .replace(",ACK,", ",AK,")
        .replace("6.0,BACK", "VII,BACK")
        .replace("False,True,False,True,False,True,PAT_9", "maybe,True,False,True,False,True,PAT_9")
    )
    refused(
        tmp_path,
        "pad-ufes-20",
        write(tmp_path / "metadata.csv", bad),
        issues=[("row 2 (line 3)", "fitspatrick"), ("row 4 (line 5)", "diagnostic"), ("row 5 (line 6)", "fitspatrick")],
        hint="'3.5' is not a Fitzpatrick skin type",
    )


# --- SCIN --------------------------------------------------------------------------------------

SCIN_CASES = (
    "case_id,source,release,year,age_group,sex_at_birth,fitzpatrick_skin_type,race_ethnicity_white,"
    "related_category,condition_duration,image_1_path,image_2_path,image_3_path,image_1_shot_type,"
    "image_2_shot_type,image_3_shot_type\n"
    "-5156441036700827606,SCIN,1.0.0,2023,AGE_30_TO_39,FEMALE,FST2,YES,GROWTH_OR_MOLE,MORE_THAN_ONE_YEAR,"
    "dataset/images/-1000600354148496558.png,dataset/images/3445096909671059178.png,"
    "dataset/images/-5669089898008966381.png,CLOSE_UP,AT_AN_ANGLE,AT_DISTANCE\n"
    "2968650902364227344,SCIN,1.0.0,2023,AGE_UNKNOWN,OTHER_OR_UNSPECIFIED,NONE_SELECTED,,RASH,ONE_DAY,"
    "dataset/images/-2243186711511406658.png,,,CLOSE_UP,,\n"
    "-821110872479093372,SCIN,1.0.0,2023,AGE_18_TO_29,MALE,FST6,,,,"
    "dataset/images/3445096909671059178.png,dataset/images/777.png,,CLOSE_UP,AT_AN_ANGLE,\n"
    "12,SCIN,1.0.0,2023,AGE_70_TO_79,MALE,,,GROWTH_OR_MOLE,,dataset/images/12001.png,,,CLOSE_UP,,\n"
)
SCIN_LABELS = (
    "case_id,dermatologist_gradable_for_skin_condition_1,dermatologist_skin_condition_on_label_name,"
    "dermatologist_skin_condition_confidence,weighted_skin_condition_label,"
    "dermatologist_gradable_for_fitzpatrick_skin_type_1,dermatologist_fitzpatrick_skin_type_label_1,"
    "dermatologist_fitzpatrick_skin_type_label_2,dermatologist_fitzpatrick_skin_type_label_3,"
    "monk_skin_tone_label_india,monk_skin_tone_label_us\n"
    "2968650902364227344,DEFAULT_YES_IMAGE_QUALITY_SUFFICIENT,\"['Eczema', 'Psoriasis', 'Eczema']\",\"[4, 2, 3]\","
    "\"{'Eczema': 0.69, 'Psoriasis': 0.31}\",YES,FST5,FST6,FST5,8,9\n"
    "-5156441036700827606,DEFAULT_YES_IMAGE_QUALITY_SUFFICIENT,\"['Melanocytic Nevus', 'SK/ISK', 'Melanoma']\","
    "\"[3, 2, 2]\",\"{'Melanocytic Nevus': 0.41, 'SK/ISK': 0.33, 'Melanoma': 0.26}\",YES,FST3,FST4,,3,4\n"
    "-821110872479093372,NO_IMAGE_QUALITY_INSUFFICIENT,[],[],{},NO,,,,,\n"
    "12,DEFAULT_YES_IMAGE_QUALITY_SUFFICIENT,['SCC/SCCIS'],[4],{'SCC/SCCIS': 1.0},YES,FST2,,,2,2\n"
)


@pytest.fixture
def scin_files(tmp_path):
    cases = write(tmp_path / "scin_cases.csv", SCIN_CASES)
    labels = write(tmp_path / "scin_labels.csv", SCIN_LABELS)
    # case 1's images at the path the metadata gives, the others by file name; 777.png missing
    images(
        tmp_path / "scin",
        "dataset/images/-1000600354148496558.png",
        "dataset/images/3445096909671059178.png",
        "dataset/images/-5669089898008966381.png",
        "-2243186711511406658.png",
        "12001.png",
    )
    return cases, labels, tmp_path / "scin"


def test_scin_import(scin_files, tmp_path):
    cases, labels, image_dir = scin_files
    report = import_dataset("scin", [cases, labels], image_dir, tmp_path / "scin.csv")
    assert (report.rows_read, report.images_listed, report.images_imported, report.images_missing) == (4, 6, 5, 1)
    assert report.fst_counts == {"2": 1, "3": 3, "5": 1, "unknown": 1}
    assert report.diagnosis_counts == {"nevus": 3, "squamous_cell_carcinoma": 1, "other": 2}
    assert len(report.notes) == 1 and report.notes[0].startswith("1 image(s) are listed by more than one case")
    table = read_manifest(tmp_path / "scin.csv", check_files="decode").table
    nevus = table[table["lesion_id"] == "-5156441036700827606"]
    assert list(nevus["image_id"]) == ["-1000600354148496558", "3445096909671059178", "-5669089898008966381"]
    assert list(nevus["shot_type"]) == ["CLOSE_UP", "AT_AN_ANGLE", "AT_DISTANCE"]
    first = nevus.iloc[0]
    assert first["image_path"] == "scin/dataset/images/-1000600354148496558.png"
    assert (first["diagnosis"], first["malignant"], first["dataset_label"]) == ("nevus", False, "Melanocytic Nevus")
    assert (first["fst"], first["fst_group"], first["fst_source"]) == (3, "III-IV", "annotated")
    assert (first["self_reported_fst"], first["dermatologist_fst"], first["sex"], first["monk_skin_tone_us"]) == (
        "2",
        "3;4",
        "female",
        "4",
    )
    eczema = row_of(table, "-2243186711511406658")
    assert eczema["image_path"] == "scin/-2243186711511406658.png"
    assert (eczema["diagnosis"], eczema["malignant"], eczema["dataset_label"], eczema["fst"]) == (
        "other",
        False,
        "Eczema",
        5,
    )
    assert (eczema["self_reported_fst"], eczema["sex"]) == ("", "other_or_unspecified")
    scc = row_of(table, "12001")
    assert (scc["diagnosis"], scc["malignant"], scc["fst"], scc["lesion_id"]) == (
        "squamous_cell_carcinoma",
        True,
        2,
        "12",
    )
    assert read_missing(report.missing_list) == [
        {"image_id": "777", "expected_file": "dataset/images/777.png", "metadata_row": "row 3 (line 4)", "reason": "not found"}
    ]


def test_scin_ungradable_case(scin_files, tmp_path):
    cases, labels, image_dir = scin_files
    images(image_dir, "777.png")
    import_dataset("scin", [cases, labels], image_dir, tmp_path / "scin.csv")
    row = row_of(read_manifest(tmp_path / "scin.csv").table, "777")
    assert (row["diagnosis"], row["dataset_label"], row["fst_source"]) == ("other", "", "")
    assert pd.isna(row["malignant"])  # nobody graded it: malignancy unknown
    assert (row["self_reported_fst"], row["dermatologist_fst"], row["lesion_id"]) == ("6", "", "-821110872479093372")


def test_scin_bad_labels_name_the_labels_file(scin_files, tmp_path):
    cases, labels, _ = scin_files
    write(
        labels,
        SCIN_LABELS.replace("YES,FST3,FST4,", "YES,FST3,FST7,").replace("{'SCC/SCCIS': 1.0}", "{'SCC/SCCIS': high}"),
    )
    error = refused(
        tmp_path,
        "scin",
        [cases, labels],
        image_dir="scin",
        issues=[
            ("row 2 (line 3)", "dermatologist_fitzpatrick_skin_type_label_2"),
            ("row 4 (line 5)", "weighted_skin_condition_label"),
        ],
        hint="'FST7' is not a SCIN skin type",
    )
    assert str(labels) in str(error)


def test_scin_cases_must_match_labels(scin_files, tmp_path):
    cases, labels, _ = scin_files
    write(cases, SCIN_CASES.replace("\n12,SCIN", "\n13,SCIN").replace(",FST6,", ",FST 6,"))
    error = refused(
        tmp_path,
        "scin",
        [cases, labels],
        image_dir="scin",
        issues=[("row 3 (line 4)", "fitzpatrick_skin_type"), ("row 4 (line 5)", "case_id")],
        hint="'13' has no row in scin_labels.csv",
    )
    assert str(cases) in str(error)


def test_scin_takes_two_files(scin_files, tmp_path):
    cases, _, image_dir = scin_files
    with pytest.raises(DatasetImportError, match="scin takes two metadata files"):
        import_dataset("scin", cases, image_dir, tmp_path / "m.csv")


# --- mapping tables and their documentation ----------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_mapping_tables_use_the_vocabulary_consistently(module):
    for label, (diagnosis, malignant) in module.LABELS.items():
        assert diagnosis in DIAGNOSES, (label, diagnosis)
        if malignant is not None and diagnosis in MALIGNANCY:
            assert malignant == MALIGNANCY[diagnosis], label


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_every_mapped_label_is_documented(module):
    docs = DOCS.read_text(encoding="utf-8").lower()
    undocumented = [label for label in module.LABELS if label.lower() not in docs]
    assert undocumented == []


# --- real metadata files -----------------------------------------------------------------------


def test_real_ham10000_sample(tmp_path):
    folder = real_sample("ham10000_sample70")
    shutil.copytree(folder / "images", tmp_path / "images")  # the manifest must sit above its images
    report = import_dataset(
        "ham10000", folder / "HAM10000_metadata_sample.csv", tmp_path / "images", tmp_path / "m.csv"
    )
    assert (report.rows_read, report.images_imported, report.images_missing) == (70, 70, 0)
    assert report.diagnosis_counts == {diagnosis: 10 for diagnosis, _ in ham10000.LABELS.values()}  # SOURCE.txt
    table = read_manifest(tmp_path / "m.csv", check_files="decode").table
    with open(folder / "HAM10000_metadata_sample.csv", newline="") as handle:
        truth = {r["image_id"]: r for r in csv.DictReader(handle)}
    assert Counter(table["dataset_label"]) == Counter(r["dx"] for r in truth.values())
    for row in table.to_dict("records"):
        assert row["dataset_label"] == truth[row["image_id"]]["dx"]
        assert row["lesion_id"] == truth[row["image_id"]]["lesion_id"]
        assert row["diagnosis"] == ham10000.LABELS[row["dataset_label"]][0]


def _import_real_with_a_few_images(tmp_path, fmt, metadata, id_column, file_of, picks=(0, 1, 500)):
    with open(metadata, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    present = [file_of(table[i][id_column]) for i in picks]
    images(tmp_path / "images", *present)
    report = import_dataset(fmt, metadata, tmp_path / "images", tmp_path / "m.csv")
    missing = read_missing(report.missing_list)
    assert (report.images_imported, report.images_missing, len(missing)) == (
        len(picks),
        len(table) - len(picks),
        len(table) - len(picks),
    )
    assert {m["expected_file"] for m in missing} == {file_of(r[id_column]) for r in table} - set(present)
    assert len(read_manifest(tmp_path / "m.csv", check_files="decode")) == len(picks)
    return table, report


def test_real_pad_ufes20_metadata(tmp_path):
    metadata = real_sample("metadata", "pad_ufes20_metadata.csv")
    table, report = _import_real_with_a_few_images(tmp_path, "pad-ufes-20", metadata, "img_id", lambda v: v)
    assert report.rows_read == 2298
    fst = Counter(str(int(float(r["fitspatrick"]))) if r["fitspatrick"] else "unknown" for r in table)
    assert report.fst_counts == dict(fst)
    assert report.fst_counts == {"1": 153, "2": 876, "3": 392, "4": 62, "5": 10, "6": 1, "unknown": 804}
    assert report.diagnosis_counts == dict(Counter(pad_ufes20.LABELS[r["diagnostic"]][0] for r in table))


def test_real_fitzpatrick17k_metadata(tmp_path):
    metadata = real_sample("metadata", "fitzpatrick17k.csv")
    table, report = _import_real_with_a_few_images(
        tmp_path, "fitzpatrick17k", metadata, "md5hash", lambda v: f"{v}.jpg"
    )
    assert report.rows_read == 16577
    published = {"1": 2947, "2": 4808, "3": 3308, "4": 2781, "5": 1533, "6": 635, "unknown": 565}
    assert report.fst_counts == published
    assert report.diagnosis_counts["melanoma"] == sum(
        r["label"] in ("melanoma", "malignant melanoma", "superficial spreading melanoma ssm", "lentigo maligna")
        for r in table
    )
    assert sum(report.diagnosis_counts.values()) == 16577
