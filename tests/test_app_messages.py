"""What the app says: typed text shown as typed, and messages in the words of the person at the screen.

Handlers run in this process on an app built over a store of its own, called as Gradio calls them
for a signed-in user; what only a browser shows (how Markdown renders) runs in Chromium.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import gradio as gr
import pytest

from app.main import build_admin_app, build_reviewer_app
from app.settings import AppSettings
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.workspace import Workspace
from review_data.accounts import account_id, create_account
from review_data.session import item_at, progress, save_rating
from review_data.store import ReviewStore
from review_data.study import add_reviewer, create_study

from .conftest import WORDS_BROKEN, demo_credentials, running_app, sign_in
from .handlers import by_id, run_event
from .review_helpers import arm_manifests

CHECKLIST = ["yes", "no", "unsure", "yes"]
ANSWERS = {"call": "real", "realism": 5, "abcd_asymmetry": "yes", "abcd_border": "no", "abcd_colour": "unsure", "abcd_diameter": "yes"}
TYPED = "Dr **Smith** <b>x</b>"  # HTML and Markdown a user might type


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    root = tmp_path_factory.mktemp("arms")
    real = write_phantom_dataset(root / "real", n=48, preset="ham10000", size=64, seed=0, workers=1)
    synthetic = write_phantom_dataset(root / "synthetic", n=48, preset="balanced", size=64, seed=1, workers=1)
    return real, synthetic


@pytest.fixture(scope="module")
def store(arms, tmp_path_factory):
    """An admin ``chief``, and study ``pilot`` with one reviewer, ``ana``."""
    root = tmp_path_factory.mktemp("review")
    store = ReviewStore(root / "review.db")
    create_account(store, "chief", "password-chief", "admin")
    create_study(store, root / "studies", "pilot", *arms, n_per_arm=2, seed=0)
    add_reviewer(store, "pilot", "ana", "password-ana")
    return store


@pytest.fixture(scope="module")
def app(store, arms, tmp_path_factory):
    """The admins' app and the reviewers' app, as `fairskin serve` builds them."""
    settings = AppSettings.for_workspace(Workspace(tmp_path_factory.mktemp("home")), review_images=tmp_path_factory.mktemp("served"))
    return [build_admin_app(settings, store, arms[0], arms[1], roots=[arms[0].parents[1]]), build_reviewer_app(settings, store)]


def call(app: list[gr.Blocks], api_name: str, *inputs, user: str) -> dict:
    """What an event shows, by elem_id, run as Gradio runs it for the signed-in ``user``."""
    return by_id(run_event(app, api_name, *inputs, user=user))


def refusal(app: list[gr.Blocks], api_name: str, *inputs, user: str) -> str:
    """The message of the gr.Error the event stops with (shown to the user as it is)."""
    with pytest.raises(gr.Error) as refused:
        call(app, api_name, *inputs, user=user)
    return refused.value.message


def test_a_reviewer_is_told_which_answers_are_missing(app):
    state = next(value for component, value in run_event(app, "review_start", "pilot", user="ana").items()
                 if isinstance(component, gr.State))
    message = call(app, "review_save", state, None, None, *CHECKLIST, "", None, user="ana")["review-message"]
    assert message == "**Not saved:** pick whether the image looks real or synthetic; pick a realism score from 1 to 7"
    message = call(app, "review_save", state, "real", "4", "yes", None, "no", None, "", None, user="ana")["review-message"]
    assert message == "**Not saved:** answer “B: border realistic?”; answer “D: diameter appropriate for the lesion type?”"


def test_enrolling_asks_for_a_study_and_a_username_first(app, store):
    assert call(app, "study_enrol", None, "newdoc", "password-newdoc", "", user="chief")["enrol-message"] == (
        "**Not enrolled:** choose a study first.")
    assert call(app, "study_enrol", "pilot", "  ", "password-newdoc", "", user="chief")["enrol-message"] == (
        "**Not enrolled:** give the reviewer's username.")
    assert call(app, "study_enrol", "pilot", "newdoc", "", "", user="chief")["enrol-message"] == (
        "**Not enrolled:** there is no account 'newdoc' yet: a new account needs a password (at least 8 characters)")
    assert account_id(store, "newdoc") is None


def test_a_study_name_taken_or_inputs_missing_are_said_in_the_admins_words(app, arms, store):
    real, synthetic = map(str, arms)
    message = call(app, "study_create", "pilot", real, synthetic, 2, 0, False, 0, False, 0, "", 0, False, user="chief")["create-message"]
    assert message == "**Study not created:** a study named **pilot** exists already: choose another name."
    for inputs, words in [
        (["", real, synthetic, 2, 0], "give the study a name."),
        (["second", " ", synthetic, 2, 0], "give the path of the real manifest."),
        (["second", real, "", 2, 0], "give the path of the synthetic manifest."),
        (["second", real, synthetic, None, 0], "give the number of images per arm."),
        (["second", real, synthetic, 2, None], "give a seed (any whole number)."),
    ]:
        message = call(app, "study_create", *inputs, False, 0, False, 0, "", 0, False, user="chief")["create-message"]
        assert message == f"**Study not created:** {words}"
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 1


def test_what_a_user_typed_comes_back_escaped(app, arms):
    message = call(app, "study_enrol", "pilot", TYPED, "password-typed", "", user="chief")["enrol-message"]
    assert message.startswith("**Not enrolled:** username 'Dr \\*\\*Smith\\*\\* &lt;b&gt;x&lt;/b&gt;':")
    message = call(app, "data_open", f"/nowhere/{TYPED}.csv", str(arms[0]), user="chief")["data-message"]
    assert "<b>" not in message and "&lt;b&gt;x&lt;/b&gt;" in message
    message = call(app, "generate_model", f"/nowhere/{TYPED}", user="chief")["generate-message"]
    assert message == ("**Model not loaded:** /nowhere/Dr \\*\\*Smith\\*\\* &lt;b&gt;x&lt;/b&gt;: no such folder on the server; "
                       "choose a model from the list")


@pytest.mark.slow
@pytest.mark.browser
def test_typed_html_and_markdown_show_as_typed_in_a_browser(browser, started_home, tmp_path):
    """…and each Studies section answers beside its own button, on screen at 1366 × 768, a missing input included."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with running_app(started_home) as running:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, running.admin_url, "admin", demo_credentials(started_home)["admin"])
        expect(page.locator("#signed-in")).to_contain_text("admin", timeout=60_000)
        page.get_by_role("tab", name="Studies").click()
        page.get_by_text("Enrol a reviewer", exact=True).click()
        page.locator("#enrol-study input").click()
        page.get_by_role("option").filter(has_text="demo").click()
        page.locator("#enrol-username input").fill(TYPED)
        page.locator("#enrol-password input").fill("password-typed")
        page.get_by_role("button", name="Enrol reviewer").click()
        message = page.locator("#enrol-message")
        expect(message).to_contain_text(f"Not enrolled: username '{TYPED}'", timeout=30_000)
        assert message.locator("b, em").count() == 0 and message.locator("strong").count() == 1  # only "Not enrolled:"
        expect(message).to_be_in_viewport(ratio=1)

        page.get_by_text("Create a study", exact=True).click()
        create = page.get_by_role("button", name="Create study")
        create.click()  # nothing typed yet: asked for in the section's own line, no pop-up, no red badges
        message = page.locator("#create-message")
        expect(message).to_have_text("Study not created: give the study a name.", timeout=30_000)
        expect(message).to_be_in_viewport(ratio=1)
        expect(page.locator(".toast-body")).to_have_count(0)
        expect(page.get_by_text("Error", exact=True)).to_have_count(0)
        page.locator("#study-name input, #study-name textarea").fill(TYPED)
        page.locator("#study-real input, #study-real textarea").fill("/nowhere/real.csv")
        page.locator("#study-synthetic input, #study-synthetic textarea").fill("/nowhere/synthetic.csv")
        create.click()
        expect(message).to_contain_text(f"Study not created: study name '{TYPED}'", timeout=30_000)
        assert message.locator("b, em").count() == 0 and message.locator("strong").count() == 1
        expect(message).to_be_in_viewport(ratio=1)
        shots = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
        page.screenshot(path=str(shots / "studies-answer-1366x768.png"))
        page.set_viewport_size({"width": 1920, "height": 1080})
        expect(message).to_be_in_viewport(ratio=1)
        page.screenshot(path=str(shots / "studies-answer-1920x1080.png"))
        page.set_viewport_size({"width": 1366, "height": 768})
        page.get_by_text("Plan a study: how many readers and images", exact=True).click()
        page.locator("#plan-run").click()
        plan = page.locator("#plan-message")
        expect(plan).to_contain_text("For 95% intervals of at most ±0.05 (detection rate) and ±0.05 (AUC):", timeout=30_000)
        expect(plan.locator("table tr")).to_have_count(26)  # a header and 25 designs
        plan.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "studies-plan-1366x768.png"))
        attention_checks_on_the_dashboard(page, started_home, shots)
        page.close()


def attention_checks_on_the_dashboard(page, home: Path, shots: Path) -> None:
    """A study made with hidden repeats and gold-standard images in the Studies tab, its blinding check said beside the
    button; a reviewer who calls every image real, so misses the (phantom: obviously synthetic) gold ones, is flagged on
    the dashboard, whose per-skin-type figures are drawn; the export holds the checks' files. At 1366 × 768."""
    expect = pytest.importorskip("playwright.sync_api").expect
    real, synthetic = arm_manifests(home)
    for field, value in (("study-name", "checked"), ("study-real", real), ("study-synthetic", synthetic), ("study-repeats", 2),
                         ("study-gold", real), ("study-n-gold", 2)):
        page.locator(f"#{field} input, #{field} textarea").fill(str(value))
    page.get_by_role("button", name="Create study").click()
    created = page.locator("#create-message")
    expect(created).to_contain_text("Hidden among them for each reviewer: 2 repeated and 2 gold-standard images", timeout=60_000)
    expect(created).to_contain_text(re.compile(r"(A|No) trivial feature tells the arms apart: a logistic regression on file and "
                                               r"pixel statistics predicts the arm with cross-validated AUC [01]\.\d\d"))
    store = ReviewStore(home / "review.db")
    add_reviewer(store, "checked", "gil", "password-gil")
    _, total, _ = progress(store, "checked", "gil")
    for position in range(total):
        save_rating(store, "checked", "gil", item_at(store, "checked", "gil", position).image_id, ANSWERS, 2.0)
    page.reload()
    page.get_by_role("tab", name="Review dashboard").click()
    page.locator("#dashboard-study input").click()
    page.get_by_role("option", name="checked", exact=True).click()
    page.get_by_role("button", name="Refresh").first.click()
    checks = page.locator("#dashboard-checks")
    expect(checks).to_contain_text("Attention and consistency (2 repeated and 2 gold-standard images", timeout=60_000)
    row = checks.locator("tr").filter(has_text="gil")
    expect(row).to_contain_text("missed 2 of 2 gold-standard images: possibly inattentive")
    expect(row.locator("td").nth(2)).to_have_text("100%")  # the same call both times
    assert page.evaluate(WORDS_BROKEN, "#dashboard-checks") == []  # "reviewer", never "reviewe r"
    checks.scroll_into_view_if_needed()
    expect(checks).to_be_in_viewport(ratio=1)
    page.screenshot(path=str(shots / "dashboard-checks-1366x768.png"))
    for title in (r"Detection by Fitzpatrick skin type \(", r"Realism \(1–7\) by Fitzpatrick"):  # the per-type figures, drawn
        figure = page.locator(".js-plotly-plot").filter(has_text=re.compile(title))
        expect(figure).to_have_count(1)
        figure.scroll_into_view_if_needed()
        expect(figure).to_be_in_viewport()
    page.screenshot(path=str(shots / "dashboard-by-type-1366x768.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})
    checks.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "dashboard-checks-1920x1080.png"))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_role("tab", name="Studies").click()
    page.locator("#export-study input").click()
    page.get_by_role("option", name="checked", exact=True).click()
    page.get_by_role("button", name="Export CSV").click()
    expect(page.locator("#export-message")).to_contain_text("Exported checked: 7 files below.", timeout=60_000)
    for name in ("ratings.csv", "study_summary.csv", "checks.csv", "reader_checks.csv", "imrmc_key.csv", "ratings.imrmc"):
        expect(page.locator("#export-files")).to_contain_text(name.replace(".", " .", 1))  # Gradio shows "checks .csv"


def test_typed_counts_of_the_fairness_tab_are_refused_in_words_never_rounded(app, arms):
    real, test = map(str, arms)
    for seeds, steps, audit, words in ((0, 600, 0, "Seeds must be a whole number from 1 to 10, not 0"),
                                       (2.5, 600, 0, "Seeds must be a whole number from 1 to 10, not 2.5"),
                                       (3, 5, 0, "Steps per classifier must be a whole number from 10 to 1,000,000, not 5"),
                                       (3, 600, 2.5, "Tone audit must be a whole number from 0 to 1,000, not 2.5")):
        verdict = call(app, "fairness_run", real, test, "", "", [], "", seeds, steps, audit, False, "", user="chief")["fairness-verdict"]
        assert verdict == f"**No report:** {words}"
