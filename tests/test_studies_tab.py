"""The Studies tab's handlers, called in this process as Gradio calls them for a signed-in admin.

The tab is built alone in a Blocks of its own (as `app.main` builds it into the admins' app), over
a store and phantom arms made here.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd
import pytest

from app.settings import AppSettings
from app.studies_tab import UNDERSTOOD, build_studies_tab
from fairskin_core.workspace import Workspace
from review_data.accounts import authenticate, create_account, role_of, set_disabled
from review_data.session import ReviewError, item_at, practice_progress, save_rating
from review_data.store import ReviewStore
from review_data.study import add_reviewer, create_study, get_study, list_studies

from .handlers import by_id, run_event
from .review_helpers import phantom_arms

ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    return phantom_arms(tmp_path_factory.mktemp("arms"))


@pytest.fixture
def store(tmp_path, arms):
    """Admin ``chief``; study ``ward`` (4 images per arm) with reviewer ``ana``, who rated two images."""
    store = ReviewStore(tmp_path / "review.db")
    create_account(store, "chief", "password-chief", "admin")
    create_study(store, tmp_path / "studies", "ward", *arms, n_per_arm=4, seed=0)
    add_reviewer(store, "ward", "ana", "password-ana")
    for position, seconds in enumerate((2.0, 8.0)):
        save_rating(store, "ward", "ana", item_at(store, "ward", "ana", position).image_id, ANSWERS, seconds)
    return store


@pytest.fixture
def tab(store, arms, tmp_path):
    with gr.Blocks() as blocks:
        refresh, outputs = build_studies_tab(AppSettings.for_workspace(Workspace(tmp_path / "home"), downloads=tmp_path / "served"), store,
                                             [arms[0].parents[1]])
    return blocks, refresh, outputs


def call(tab, api_name: str, *inputs, user: str = "chief") -> dict:
    """What the event shows, by elem_id."""
    return by_id(run_event([tab[0]], api_name, *inputs, user=user))


def refusal(tab, api_name: str, *inputs, user: str = "chief") -> str:
    with pytest.raises(gr.Error) as refused:
        call(tab, api_name, *inputs, user=user)
    return refused.value.message


def test_the_refresh_fills_every_output_it_names(tab, store):
    _, refresh, outputs = tab
    values = refresh()
    assert set(values) == set(outputs)
    overview = by_id(values)["studies-overview"]
    assert list(overview["study"]) == ["ward"] and list(overview["status"]) == ["open"] and list(overview["practice"]) == [0]


def test_a_study_with_practice_images_and_the_small_size_note(tab, store, arms):
    real, synthetic = map(str, arms)
    message = call(tab, "study_create", "tab-practice", real, synthetic, 3, 0, False, 4, False, 0, "", 0, False)["create-message"]
    assert message.startswith("Created study **tab-practice**: 6 images and 4 practice images at 64 px")
    assert "**Note:** The study's images are 64 × 64 px, too small for a clinical reading" in message
    assert get_study(store, "tab-practice").n_practice == 4
    add_reviewer(store, "tab-practice", "ben", "password-ben")
    assert practice_progress(store, "tab-practice", "ben") == (0, 4)
    message = call(tab, "study_create", "tab-none", real, synthetic, 3, 0, False, -2, False, 0, "", 0, False)["create-message"]
    assert message == "**Study not created:** Practice images must be a whole number from 0 to 10,000, not -2"
    for typed in (0, 2.5, 20_000):  # typed counts are refused in our words, never rounded or clamped
        message = call(tab, "study_create", "tab-none", real, synthetic, typed, 0, False, 0, False, 0, "", 0, False)["create-message"]
        assert message == f"**Study not created:** Images per arm must be a whole number from 1 to 10,000, not {typed:g}"
    assert "tab-none" not in list_studies(store)
    missing = call(tab, "study_create", "tab-none", real, synthetic, 3, 0, False, None, False, 0, "", 0, False)["create-message"]
    assert missing == "**Study not created:** give the number of practice images (0 for none)."


def test_an_existing_reviewer_is_enrolled_in_a_second_study_by_name_alone(tab, store, arms):
    real, synthetic = map(str, arms)
    call(tab, "study_create", "second", real, synthetic, 3, 0, False, 0, False, 0, "", 0, False)
    shown = call(tab, "study_enrol", "second", "ana", "", "")
    assert shown["enrol-message"] == "**ana** now reviews **second**." and shown["enrol-password"] == ""
    assert shown["enrol-username"]["choices"] == ["ana"]  # the username box offers the existing reviewers
    assert authenticate(store, "ana", "password-ana") == "reviewer"
    # a new account: its password makes it
    message = call(tab, "study_enrol", "second", "ben", "password-ben", "dermatologist")["enrol-message"]
    assert message == "**ben** now reviews **second** (group: dermatologist)." and authenticate(store, "ben", "password-ben") == "reviewer"


def test_a_study_is_planned_from_assumptions_or_a_pilot_and_says_which(tab, store):
    message = call(tab, "study_plan", None, 0.06, 0.08)["plan-message"]
    assert message.startswith("For 95% intervals of at most ±0.06 (detection rate) and ±0.08 (AUC): ")
    assert "Components: assumed:" in message and "| readers |" in message.replace("|   readers |", "| readers |")
    assert call(tab, "study_plan", "ward", 0.06, 0.08)["plan-message"] == (  # one reader so far: no pilot yet
        "**Not planned:** a pilot needs at least 2 readers who rated every image and 4 images; ward has 1 such reader(s) and 2 "
        "image(s)")
    assert call(tab, "study_plan", None, None, 0.08)["plan-message"] == "**Not planned:** give the detection rate's half-width (e.g. 0.05)."


def test_the_activity_table_shows_what_each_reviewer_did(tab, store):
    add_reviewer(store, "ward", "ben", "password-ben")
    shown = call(tab, "study_activity", "ward")
    table = shown["activity-table"]
    assert shown["activity-message"] == "" and list(table["reviewer"]) == ["ana", "ben"]
    ana, ben = table.to_dict("records")
    assert (ana["rated"], ana["of"], ana["median seconds per image"], ana["account"]) == (2, 8, "5.0", "active")
    assert ana["last active (UTC)"][:4].isdigit() and ana["last active (UTC)"].count(":") == 2
    assert (ben["rated"], ben["median seconds per image"], ben["last active (UTC)"]) == (0, "—", "—")
    assert call(tab, "study_activity_refresh", "ward")["activity-table"].equals(table)
    assert call(tab, "study_activity", None)["activity-table"].empty
    assert call(tab, "study_activity", "gone")["activity-message"].startswith("There is no study of that name")
    assert refusal(tab, "study_activity", "ward", user="ana") == "This needs a signed-in admin account."


def test_an_admin_resets_disables_and_enables_a_reviewer(tab, store):
    assert call(tab, "study_reset_password", "ana", "a new password") == {
        "account-password": "", "account-message": "**ana** has a new password; the old one no longer works."}
    assert authenticate(store, "ana", "a new password") == "reviewer" and authenticate(store, "ana", "password-ana") is None
    message = call(tab, "study_reset_password", "ana", "short")["account-message"]
    assert message == "**Password not changed:** the password must have at least 8 characters"
    assert call(tab, "study_reset_password", None, "a new password")["account-message"] == (
        "**Password not changed:** Choose a reviewer first.")
    assert call(tab, "study_reset_password", "chief", "another password")["account-message"] == (
        "**Password not changed:** That is not a reviewer's account: choose a reviewer from the list.")

    shown = call(tab, "study_disable_reviewer", "ana", "ward")
    table = shown["activity-table"]
    assert shown["account-message"].startswith("**ana** is disabled: it can no longer sign in") and list(table["account"]) == ["disabled"]
    assert role_of(store, "ana") is None and list(table["rated"]) == [2]  # ratings kept
    shown = call(tab, "study_enable_reviewer", "ana", "ward")
    table = shown["activity-table"]
    assert shown["account-message"] == "**ana** is enabled again: it can sign in." and list(table["account"]) == ["active"]


def test_a_disabled_admin_is_refused_at_once_in_an_open_page(tab, store):
    create_account(store, "deputy", "password-deputy", "admin")
    assert isinstance(call(tab, "study_activity", "ward", user="deputy")["activity-table"], pd.DataFrame)
    set_disabled(store, "deputy", True)
    assert refusal(tab, "study_activity", "ward", user="deputy") == "This needs a signed-in admin account."


def test_closing_a_study_asks_for_confirmation_and_then_holds(tab, store):
    assert call(tab, "study_close", "ward", False)["close-message"] == f"**Not closed:** Tick “{UNDERSTOOD}” to close the study."
    assert get_study(store, "ward").closed_at is None
    shown = call(tab, "study_close", "ward", True)
    assert shown["close-message"] == "**ward** is closed: answers can no longer be saved or changed, and its exports are final."
    assert shown["close-understood"] is False and list(shown["studies-overview"]["status"]) == ["closed"]
    assert shown["close-study"]["choices"] == []
    with pytest.raises(ReviewError, match="This study is closed"):
        save_rating(store, "ward", "ana", item_at(store, "ward", "ana", 3).image_id, ANSWERS, 1.0)
    message = call(tab, "study_close", "ward", True)["close-message"]
    assert message.startswith("**ward** was closed already, at ") and message.endswith(" UTC.")
    shown = call(tab, "study_export", "ward")
    files, message = shown["export-files"], shown["export-message"]
    (summary,) = [f for f in files if f.endswith("study_summary.csv")]
    assert message == f"Exported **ward**: {len(files)} files below."
    assert pd.read_csv(summary).iloc[1]["metric"] == "final"
