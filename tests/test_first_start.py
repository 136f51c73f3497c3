"""A first start serves at once: sign-in works while the embedded defaults are still being made.

The demo's generated images take about a minute on two cores (the phantoms have been rendered
here already, as `started_home` provides them): the page must answer, sign in, show how far the
preparation is, and fill its tabs and the demo study by itself when it is done.
"""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from .conftest import demo_credentials, running_app, sign_in


@pytest.mark.slow
@pytest.mark.browser
def test_the_app_answers_before_the_defaults_exist_and_fills_itself_when_they_do(browser, started_home):
    expect = pytest.importorskip("playwright.sync_api").expect
    shutil.rmtree(started_home / "synthetic")  # the demo's generated images: made by this start
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
