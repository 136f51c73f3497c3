"""A first start serves at once: sign-in works while the embedded defaults are still being made.

The demo's generated images take about a minute on two cores (the phantoms have been rendered
here already, as `started_home` provides them): the page must answer, sign in, show how far the
preparation is, and fill its tabs and the demo study by itself when it is done. The start tested
finds the demo's images as an earlier first start stopped after the second of its three batches left them:
it makes the rest (what was made is never made again) in a third of the time a whole set takes.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from fairskin_core.manifest import read_manifest, write_manifest

from .conftest import demo_credentials, running_app, sign_in


def stopped_after_two_batches(home) -> tuple[Path, dict[str, int]]:
    """Leave the demo's generated set in ``home`` as a first start stopped after its second batch of 24 leaves it; returns
    its manifest and the modification times of the images made."""
    manifest = read_manifest(next((home / "synthetic").glob("default-model-*/manifest.csv")), check_files="none")
    made, missing = manifest.table.iloc[:48], manifest.table.iloc[48:]
    for path in missing["image_path"]:
        manifest.image_file(path).unlink()
    write_manifest(made, manifest.path)
    return manifest.path, {path: manifest.image_file(path).stat().st_mtime_ns for path in made["image_path"]}


@pytest.mark.slow
@pytest.mark.browser
def test_the_app_answers_before_the_defaults_exist_and_fills_itself_when_they_do(browser, started_home):
    expect = pytest.importorskip("playwright.sync_api").expect
    demo_set, made = stopped_after_two_batches(started_home)  # the last third of the demo's generated images: made by this start
    with running_app(started_home, wait_for_defaults=False) as app:
        status = json.loads(urllib.request.urlopen(f"{app.url}startup-status", timeout=10).read())
        assert not status["finished"] and "First start" in status["status"]
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, app.admin_url, "admin", demo_credentials(started_home)["admin"])  # the accounts exist at once
        banner = page.locator("#startup-status")
        expect(banner).to_contain_text("First start: preparing the embedded defaults", timeout=60_000)
        expect(banner).to_contain_text("generating the demo's images", timeout=60_000)
        expect(page.locator("#data-status")).to_contain_text("600 of 600 images match", timeout=60_000)  # what exists is shown
        expect(banner).to_have_text("", timeout=400_000)  # done: the banner goes by itself
        page.get_by_role("tab", name="Studies").click()
        expect(page.locator("body")).to_contain_text("demo", timeout=30_000)
        assert json.loads(urllib.request.urlopen(f"{app.url}startup-status", timeout=10).read())["ready"]
    whole = read_manifest(demo_set)
    assert len(whole.table) == 72 and whole.table["image_id"].is_unique
    assert {path: whole.image_file(path).stat().st_mtime_ns for path in made} == made  # what was made is kept, not made again


@pytest.mark.slow
def test_ctrl_c_while_the_defaults_are_being_generated_stops_the_server_cleanly(started_home):
    """Ctrl-C with torch at work on a background thread: the server stops at once and says so; it used to abort
    ("terminate called without an active exception", exit 134)."""
    shutil.rmtree(started_home / "synthetic")  # the demo's generated images: this start makes them, with torch
    with running_app(started_home, wait_for_defaults=False) as app:
        deadline = time.monotonic() + 120
        while "generating the demo's images" not in json.loads(urllib.request.urlopen(f"{app.url}startup-status", timeout=10).read())[
                "status"]:
            assert time.monotonic() < deadline, (started_home / "serve.log").read_text()
            time.sleep(0.2)
        app.process.send_signal(signal.SIGINT)
        code = app.process.wait(60)
    log = (started_home / "serve.log").read_text()
    assert code in (0, 130) and "terminate called" not in log, log
    assert "fairskin serve: stopped; a generation still running stops with its saved images kept" in log
