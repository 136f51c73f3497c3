"""A refusal of a value a person passed is written once, in the library, naming the library's parameter: the library
says the parameter (``synthetic``), the command line its option (``--synthetic``), the web app its field's label
(fairskin_core.errors.ParameterError, NamesParameters)."""

from __future__ import annotations

import argparse

import pytest

from app.cli import build_parser
from app.cli_types import option_name
from app.messages import FAIRNESS_FIELDS, STUDY_FIELDS, said
from fairskin_core.downstream.settings import ExperimentSettings
from fairskin_core.errors import ParameterError
from fairskin_core.importers import DatasetImportError, import_dataset
from fairskin_core.phantoms.dataset import write_phantom_dataset
from review_data.store import ReviewStore
from review_data.study import create_study

from .review_helpers import fairskin, phantom_arms

# Each verb, and the library parameters its refusals name: every one must be an option of that verb.
NAMED_BY_VERB = {
    ("downstream",): ["train", "test", "synthetic", "oracle", "size", "seeds", "specificity", "tone_audit", "steps", "batch_size",
                      "real_weight", "classifier", "drop_overlapping_test_images", "out", "overwrite"],
    ("import",): ["images", "out"],
    ("phantoms",): ["n", "size", "out", "overwrite"],
    ("metrics",): ["out", "overwrite"],
    ("lora",): ["split", "fst", "diagnoses", "resume=False", "allow_download", "seed"],
    ("textual-inversion",): ["split", "fst", "diagnoses", "resume=False", "allow_download", "seed"],
    ("generate",): ["model", "diagnosis_mix", "allow_download", "seed"],
    ("tone-transfer",): ["out", "limit", "allow_download", "seed"],
    ("study", "create"): ["image_size", "accept_tone_difference", "seed"],
}


def _verb(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (verbs,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return verbs.choices[name]


def error_line(result, verb: str) -> str:
    """The one line the command line prints for a refusal, without its "fairskin VERB: error: "."""
    assert result.returncode == 1, result.stderr
    (line,) = (line for line in result.stderr.splitlines() if line.startswith(f"fairskin {verb}: error: "))
    return line.removeprefix(f"fairskin {verb}: error: ")


@pytest.mark.parametrize("verb", list(NAMED_BY_VERB), ids=" ".join)
def test_every_parameter_a_refusal_names_is_an_option_of_the_verb_that_reaches_it(verb):
    parser = build_parser()
    for name in verb:
        parser = _verb(parser, name)
    options = set(parser._option_string_actions)
    assert {option_name(p) for p in NAMED_BY_VERB[verb]} <= options, [p for p in NAMED_BY_VERB[verb] if option_name(p) not in options]


def test_downstream_settings_refused_in_the_words_of_each_front_end(tmp_path):
    with pytest.raises(ParameterError) as refused:
        ExperimentSettings(train="train.csv", test="test.csv", strategies=("real-only", "mixed")).checked()
    assert str(refused.value) == "strategies mixed need synthetic images: give synthetic, or leave them out"
    assert said(refused.value, FAIRNESS_FIELDS) == "strategies mixed need synthetic images: give “Synthetic manifest”, or leave them out"
    result = fairskin(tmp_path / "home", "downstream", "--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv",
                      "--strategy", "mixed", "--out", tmp_path / "report")
    assert error_line(result, "downstream") == "strategies mixed need synthetic images: give --synthetic, or leave them out"

    with pytest.raises(ParameterError) as refused:
        ExperimentSettings(train="train.csv", test="test.csv", seeds=0).checked()
    assert str(refused.value) == "seeds must be at least 1, not 0"
    assert said(refused.value, FAIRNESS_FIELDS) == "“Seeds” must be at least 1, not 0"
    result = fairskin(tmp_path / "home", "downstream", "--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv",
                      "--seeds", 0, "--out", tmp_path / "report")
    assert error_line(result, "downstream") == "--seeds must be at least 1, not 0"
    assert not (tmp_path / "report").exists()


def test_an_import_from_a_missing_image_folder_is_refused_in_the_words_of_each_front_end(tmp_path):
    metadata, missing, out = tmp_path / "HAM10000_metadata.csv", tmp_path / "no-such-folder", tmp_path / "manifest.csv"
    with pytest.raises(DatasetImportError) as refused:  # still the importer's own exception
        import_dataset("ham10000", metadata, missing, out)
    assert str(refused.value) == f"images {missing}: no such folder; check images"
    assert said(refused.value) == f"“images” {missing}: no such folder; check “images”"  # no tab imports: the parameter itself
    result = fairskin(tmp_path / "home", "import", "ham10000", metadata, "--images", missing, "--out", out)
    assert error_line(result, "import") == f"--images {missing}: no such folder; check --images"


def test_phantom_refusals_in_the_words_of_each_front_end(tmp_path):
    with pytest.raises(ParameterError) as refused:
        write_phantom_dataset(tmp_path / "none", n=0)
    assert str(refused.value) == "n must be at least 1, not 0" and said(refused.value) == "“n” must be at least 1, not 0"
    assert error_line(fairskin(tmp_path / "home", "phantoms", "--n", 0, "--out", tmp_path / "none"), "phantoms") == \
        "--n must be at least 1, not 0"

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError) as refused:  # an output that is there already is still a FileExistsError
        write_phantom_dataset(existing, n=4, size=64, workers=1)
    assert str(refused.value) == f"{existing} already exists and is not empty; choose a new folder or pass overwrite"
    assert said(refused.value) == f"{existing} already exists and is not empty; choose a new folder or pass “overwrite”"
    result = fairskin(tmp_path / "home", "phantoms", "--n", 4, "--size", 64, "--out", existing)
    assert error_line(result, "phantoms") == f"{existing} already exists and is not empty; choose a new folder or pass --overwrite"
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_a_study_image_size_refused_in_the_words_of_each_front_end(tmp_path):
    real, synthetic = phantom_arms(tmp_path / "arms", n=12, size=64)
    with pytest.raises(ValueError) as refused:
        create_study(ReviewStore(tmp_path / "review.db"), tmp_path / "studies", "small", real, synthetic, n_per_arm=2, image_size=16)
    expected = ("{} 16: must be between 32 and 64 px (the smallest study image's short side), so that no image is enlarged")
    assert str(refused.value) == expected.format("image_size")
    assert said(refused.value, STUDY_FIELDS) == expected.format("“image_size”")  # the Studies tab has no such field
    result = fairskin(tmp_path / "home", "study", "create", "--name", "small", "--real", real, "--synthetic", synthetic,
                      "--n-per-arm", 2, "--image-size", 16)
    assert error_line(result, "study") == expected.format("--image-size")
    assert not (tmp_path / "studies").exists()
