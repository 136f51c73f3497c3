"""ISIC challenge formats 2016-2018: fixtures in the exact official formats, and the real ISIC 2017 split."""

from __future__ import annotations

from collections import Counter

import pytest

from fairskin_core.importers import DatasetImportError, MetadataError, import_dataset, isic2017
from fairskin_core.manifest import read_manifest

from .conftest import real_sample
from .test_cli import folder_state
from .test_importers import images, refused, row_of, write

# Official layouts: ISIC 2016 has no header, its training file says benign/malignant, its test file 0.0/1.0.
ISIC2016_TRAINING = "ISIC_0000000,benign\nISIC_0000001,benign\nISIC_0000002,malignant\n"
ISIC2016_TEST = "ISIC_0000003,0.0\nISIC_0000012,1.0\n"
ISIC2017_HEADER = "image_id,melanoma,seborrheic_keratosis\n"
ISIC2018_HEADER = "image,MEL,NV,BCC,AKIEC,BKL,DF,VASC\n"


def test_isic2016_reads_both_official_label_forms_and_the_split_from_the_file_name(tmp_path):
    training = write(tmp_path / "ISBI2016_ISIC_Part3_Training_GroundTruth.csv", ISIC2016_TRAINING)
    test = write(tmp_path / "ISBI2016_ISIC_Part3_Test_GroundTruth.csv", ISIC2016_TEST)
    images(tmp_path / "images/ISBI2016_ISIC_Part3_Training_Data", "ISIC_0000000.jpg", "ISIC_0000001.jpg", "ISIC_0000002.jpg")
    images(tmp_path / "images/ISBI2016_ISIC_Part3_Test_Data", "ISIC_0000003.jpg", "ISIC_0000012.jpg")
    report = import_dataset("isic2016", [training, test], tmp_path / "images", tmp_path / "isic2016.csv")
    assert (report.rows_read, report.images_imported, report.diagnosis_counts) == (5, 5, {"other": 5})
    table = read_manifest(report.manifest).table
    assert row_of(table, "ISIC_0000002")["malignant"] and not row_of(table, "ISIC_0000001")["malignant"]
    assert (row_of(table, "ISIC_0000012")["dataset_label"], row_of(table, "ISIC_0000012")["malignant"]) == ("malignant", True)
    assert dict(zip(table["image_id"], table["split"], strict=True)) == {
        "ISIC_0000000": "train", "ISIC_0000001": "train", "ISIC_0000002": "train", "ISIC_0000003": "test", "ISIC_0000012": "test"}


def test_isic2016_refuses_a_file_with_a_header_or_an_unknown_label(tmp_path):
    metadata = write(tmp_path / "ISBI2016_ISIC_Part3_Training_GroundTruth.csv", "image_id,label\nISIC_0000000,benign\nISIC_0000001,maybe\n")
    error = refused(tmp_path, "isic2016", [metadata], issues=[("row 1 (line 1)", "label"), ("row 3 (line 3)", "label")],
                    hint="benign or malignant (or 0.0 / 1.0)")
    assert "'maybe'" in str(error)
    write(metadata, "ISIC_0000000,benign,extra\n")
    refused(tmp_path, "isic2016", [metadata], issues=[("row 1 (line 1)", "-")], hint="isic2016 files have 2 (image_id, label)")


def test_isic2017_maps_the_two_columns_and_takes_each_split_from_its_official_file(tmp_path):
    files = {
        "ISIC-2017_Training_Part3_GroundTruth.csv": "ISIC_0000000,0.0,0.0\nISIC_0000002,1.0,0.0\nISIC_0000004,0.0,1.0\n",
        "ISIC-2017_Validation_Part3_GroundTruth.csv": "ISIC_0001769,0.0,0.0\n",
        "ISIC-2017_Test_v2_Part3_GroundTruth.csv": "ISIC_0012086,1,0\n",
    }
    metadata = [write(tmp_path / name, ISIC2017_HEADER + rows) for name, rows in files.items()]
    images(tmp_path / "ISIC-2017_Training_Data", "ISIC_0000000.jpg", "ISIC_0000002.jpg", "ISIC_0000004.jpg")
    images(tmp_path / "ISIC-2017_Validation_Data", "ISIC_0001769.jpg")
    images(tmp_path / "ISIC-2017_Test_v2_Data", "ISIC_0012086.jpg")
    folders = [tmp_path / "ISIC-2017_Training_Data", tmp_path / "ISIC-2017_Validation_Data", tmp_path / "ISIC-2017_Test_v2_Data"]
    report = import_dataset("isic2017", metadata, folders, tmp_path / "project" / "isic2017.csv")
    table = read_manifest(report.manifest, check_files="decode").table
    expected = {"ISIC_0000000": ("nevus", False, "train"), "ISIC_0000002": ("melanoma", True, "train"),
                "ISIC_0000004": ("seborrheic_keratosis", False, "train"), "ISIC_0001769": ("nevus", False, "val"),
                "ISIC_0012086": ("melanoma", True, "test")}
    assert {r["image_id"]: (r["diagnosis"], r["malignant"], r["split"]) for _, r in table.iterrows()} == expected
    assert report.notes == [] and set(table["dataset"]) == {"isic2017"}


def test_isic2017_refuses_both_labels_at_once_and_an_image_in_two_splits(tmp_path):
    training = write(tmp_path / "ISIC-2017_Training_Part3_GroundTruth.csv",
                     ISIC2017_HEADER + "ISIC_0000000,1.0,1.0\nISIC_0000001,0.0,0.5\n")
    refused(tmp_path, "isic2017", [training],
            issues=[("row 1 (line 2)", "melanoma, seborrheic_keratosis"), ("row 2 (line 3)", "seborrheic_keratosis")],
            hint="a lesion is melanoma, seborrheic keratosis or (both 0.0) nevus")
    write(training, ISIC2017_HEADER + "ISIC_0000000,0.0,0.0\n")
    validation = write(tmp_path / "ISIC-2017_Validation_Part3_GroundTruth.csv",
                       ISIC2017_HEADER + "ISIC_0000009,0.0,0.0\nISIC_0000000,1.0,0.0\n")
    error = refused(tmp_path, "isic2017", [training, validation],
                    issues=[("ISIC-2017_Validation_Part3_GroundTruth.csv row 2 (line 3)", "image_id")],
                    hint="an image belongs to one split")
    assert "ISIC-2017_Training_Part3_GroundTruth.csv row 1 (line 2)" in str(error)


def test_isic2017_file_of_unknown_split_is_imported_with_a_note(tmp_path):
    metadata = write(tmp_path / "labels.csv", ISIC2017_HEADER + "ISIC_0000000,0.0,0.0\n")
    images(tmp_path / "images", "ISIC_0000000.jpg")
    report = import_dataset("isic2017", metadata, tmp_path / "images", tmp_path / "m.csv")
    assert read_manifest(report.manifest).table["split"].tolist() == [""]
    assert report.notes == ["labels.csv: the file name does not say the split (Training / Validation / Test); split left empty"]


def test_isic2018_task3_maps_like_ham10000(tmp_path):
    rows = {"ISIC_0024306": "0.0,1.0,0.0,0.0,0.0,0.0,0.0", "ISIC_0024329": "0.0,0.0,0.0,1.0,0.0,0.0,0.0",
            "ISIC_0024331": "0.0,0.0,0.0,0.0,1.0,0.0,0.0", "ISIC_0024310": "1.0,0.0,0.0,0.0,0.0,0.0,0.0"}
    metadata = write(tmp_path / "ISIC2018_Task3_Training_GroundTruth.csv", ISIC2018_HEADER + "".join(f"{k},{v}\n" for k, v in rows.items()))
    validation = write(tmp_path / "ISIC2018_Task3_Validation_GroundTruth.csv",
                       ISIC2018_HEADER + "ISIC_0034321,0.0,0.0,0.0,0.0,0.0,0.0,1.0\n")
    images(tmp_path / "ISIC2018_Task3_Training_Input", *(f"{k}.jpg" for k in rows))
    images(tmp_path / "ISIC2018_Task3_Validation_Input", "ISIC_0034321.jpg")
    report = import_dataset("isic2018", [metadata, validation], tmp_path, tmp_path / "isic2018.csv")
    table = read_manifest(report.manifest).table
    assert {r["image_id"]: (r["diagnosis"], r["malignant"], r["dataset_label"], r["split"]) for _, r in table.iterrows()} == {
        "ISIC_0024306": ("nevus", False, "NV", "train"), "ISIC_0024329": ("actinic_keratosis", True, "AKIEC", "train"),
        "ISIC_0024331": ("seborrheic_keratosis", False, "BKL", "train"), "ISIC_0024310": ("melanoma", True, "MEL", "train"),
        "ISIC_0034321": ("vascular_lesion", False, "VASC", "val")}
    write(metadata, ISIC2018_HEADER + "ISIC_0024306,1.0,1.0,0.0,0.0,0.0,0.0,0.0\n")
    refused(tmp_path, "isic2018", [metadata], issues=[("row 1 (line 2)", "MEL, NV")],
            hint="exactly one of MEL, NV, BCC, AKIEC, BKL, DF, VASC")


def test_isic2018_needs_its_own_header(tmp_path):
    metadata = write(tmp_path / "ISIC_2019_Training_GroundTruth.csv",
                     "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\nISIC_0000000,0,1,0,0,0,0,0,0,0\n")
    refused(tmp_path, "isic2018", [metadata], issues=[("header", "AKIEC")], hint="check that this is the right file for format isic2018")


def test_the_whole_official_isic2017_split_imports_from_the_read_only_copy(tmp_path):
    """2,000 / 150 / 600 with the published counts, into a folder of our own; nothing written beside the images."""
    train, val_test = real_sample("isic2017_256px_train"), real_sample("isic2017_256px_val_test")
    before = [folder_state(train), folder_state(val_test)]
    metadata = [train / "ISIC-2017_Training_Part3_GroundTruth.csv", val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv",
                val_test / "ISIC-2017_Test_v2_Part3_GroundTruth.csv"]
    report = import_dataset("isic2017", metadata, [train / "images", val_test / "images"], tmp_path / "isic2017.csv", strict=True)
    assert [folder_state(train), folder_state(val_test)] == before
    table = read_manifest(report.manifest, check_files="exists").table
    counts = Counter(zip(table["split"], table["diagnosis"], strict=True))
    per_split = {split: sum(n for (s, _), n in counts.items() if s == split) for split in ("train", "val", "test")}
    assert per_split == {"train": 2000, "val": 150, "test": 600}
    assert (counts["train", "melanoma"], counts["train", "seborrheic_keratosis"], counts["train", "nevus"]) == (374, 254, 1372)
    assert (counts["val", "melanoma"], counts["val", "seborrheic_keratosis"], counts["val", "nevus"]) == (30, 42, 78)
    assert (counts["test", "melanoma"], counts["test", "seborrheic_keratosis"], counts["test", "nevus"]) == (117, 90, 393)
    assert report.fst_counts == {"unknown": 2750}
    assert set(table["image_root"]) == {str((train / "images").resolve()), str((val_test / "images").resolve())}
    assert isic2017.read(metadata[:1]).rows_read == 2000


def test_the_1024px_copies_share_names_with_the_256px_ones_so_both_at_once_are_ambiguous(tmp_path):
    val_test, large = real_sample("isic2017_256px_val_test"), real_sample("isic2017_val98_1024px")
    with pytest.raises(DatasetImportError, match="ambiguous.*point images at one copy"):
        import_dataset("isic2017", val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv", [val_test / "images", large / "images"],
                       tmp_path / "m.csv")
    report = import_dataset("isic2017", val_test / "ISIC-2017_Validation_Part3_GroundTruth.csv", large / "images", tmp_path / "m.csv")
    assert (report.images_imported, report.images_missing) == (98, 52)  # the snapshot lacks 52 originals (SOURCE.txt)
    with pytest.raises(MetadataError):
        import_dataset("isic2017", real_sample("ham10000_sample70") / "HAM10000_metadata_sample.csv", large / "images", tmp_path / "m.csv")
