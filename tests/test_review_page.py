"""The reviewer's page in Chromium: one screen at the sizes clinicians use, zoom and pan, keys for everything,
the next image drawn at once, a practice round. One server, on a workspace holding the embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import running_app, with_embedded_defaults
from .review_helpers import arm_manifests, database, fairskin, make_study, reviewing, saved_ratings

pytestmark = pytest.mark.browser
SCREENS = {"laptop": (1366, 768), "desktop": (1920, 1080), "tablet": (1024, 768), "tablet-portrait": (768, 1024)}
CONTROLS = ("#review-picture", "#zoom-toolbar", "#review-progress", "#answer-call", "#answer-realism", "#answer-abcd-asymmetry",
            "#answer-abcd-border", "#answer-abcd-colour", "#answer-abcd-diameter", "#answer-comment", "#back", "#cannot-assess",
            "#save-next", "#review-help", "#review-study")
QUESTIONS = ("asymmetry", "border", "colour", "diameter")


@pytest.fixture(scope="module")
def home(embedded_defaults, tmp_path_factory):
    return with_embedded_defaults(tmp_path_factory.mktemp("workspace"), embedded_defaults)


@pytest.fixture(scope="module")
def server(home):
    with running_app(home) as app:
        yield app.url


def expect():
    return pytest.importorskip("playwright.sync_api").expect


def checked(page) -> dict[str, str]:
    """The answers the page shows as chosen, by control."""
    return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#review-form input[type=radio]:checked')]"
                         ".map(e => [e.closest('[id^=answer-]').id, e.value]))")


def press(page, keys: str) -> None:
    page.locator("body").click(position={"x": 2, "y": 2})  # no control focused: the page's own keys
    for key in keys:
        page.keyboard.press(key)


def scale(page) -> float:
    """Screen pixels per image pixel as the image is drawn now."""
    return float(page.locator("#review-viewer").get_attribute("data-scale"))


@pytest.mark.parametrize("screen", SCREENS)
def test_every_control_is_on_one_screen_at_the_sizes_clinicians_use(browser, server, home, screen, tmp_path):
    width, height = SCREENS[screen]
    page = reviewing(browser, server, home, f"screen-{screen}", f"screen-{screen}", n_per_arm=2, seed=1, viewport=SCREENS[screen])
    expect()(page.locator("#review-progress")).to_contain_text("Image 1 of 4", timeout=30_000)
    page.wait_for_timeout(500)  # the image is placed once it has loaded
    for control in CONTROLS:
        box = page.locator(control).bounding_box()
        assert box is not None, control
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, (control, box)
    assert page.evaluate("() => document.scrollingElement.scrollHeight") <= height  # nothing below the fold, no scroll bar
    picture = page.locator("#review-picture").bounding_box()
    assert min(picture["width"], picture["height"]) >= 0.55 * min(width - 360, height)  # the image as large as the screen allows
    folder = Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path))
    page.screenshot(path=str(folder / f"review-{width}x{height}.png"))
    page.close()


def test_zoom_and_pan_by_wheel_drag_and_keys_kept_across_images_on_request(browser, server, home):
    page = reviewing(browser, server, home, "zoom", "zoomer", n_per_arm=2, seed=2, viewport=SCREENS["laptop"])
    expect()(page.locator("#review-progress")).to_contain_text("Image 1 of 4", timeout=30_000)
    page.wait_for_timeout(500)
    fit = scale(page)
    press(page, "+")
    assert scale(page) == pytest.approx(fit * 1.25, rel=1e-3)
    press(page, "x")  # native pixels: one image pixel on one screen pixel
    assert scale(page) == pytest.approx(1.0, rel=1e-3)
    press(page, "0")
    assert scale(page) == pytest.approx(fit, rel=1e-3)

    frame = page.locator("#review-viewer").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(300)
    assert scale(page) > 3 * fit
    before = page.locator("#review-picture").bounding_box()
    page.mouse.down()
    page.mouse.move(frame["x"] + frame["width"] / 2 + 80, frame["y"] + frame["height"] / 2 + 60, steps=4)
    page.mouse.up()
    after = page.locator("#review-picture").bounding_box()
    assert (after["x"] - before["x"], after["y"] - before["y"]) == (pytest.approx(80, abs=1), pytest.approx(60, abs=1))

    press(page, "p")  # pixel-exact display, remembered by this browser
    assert page.locator("#review-picture").evaluate("e => getComputedStyle(e).imageRendering") == "pixelated"
    press(page, "p")
    assert page.locator("#review-picture").evaluate("e => getComputedStyle(e).imageRendering") == "auto"

    def answer_and_save() -> None:
        press(page, "s4yyyy")
        page.keyboard.press("Enter")

    zoomed = scale(page)
    answer_and_save()  # by default each image starts fitted to the frame
    expect()(page.locator("#review-progress")).to_contain_text("Image 2 of 4", timeout=30_000)
    page.wait_for_timeout(300)
    assert scale(page) == pytest.approx(fit, rel=1e-3)
    press(page, "k+++")  # keep the zoom: the next image comes at the same zoom
    zoomed = scale(page)
    assert page.locator("#zoom-keep").is_checked()
    answer_and_save()
    expect()(page.locator("#review-progress")).to_contain_text("Image 3 of 4", timeout=30_000)
    page.wait_for_timeout(300)
    assert scale(page) == pytest.approx(zoomed, rel=1e-3)

    press(page, "f")  # full screen: the image and every control, and the keys still work
    assert page.evaluate("() => document.fullscreenElement && document.fullscreenElement.id") == "review-form"
    press(page, "r6nnnn")
    assert checked(page) == {"answer-call": "real", "answer-realism": "6", **{f"answer-abcd-{q}": "no" for q in QUESTIONS}}
    page.keyboard.press("Enter")
    expect()(page.locator("#review-progress")).to_contain_text("Image 4 of 4", timeout=30_000)
    page.close()
    assert saved_ratings(home, "zoomer", "zoom", "g.position, r.call, r.realism") == [(0, "synthetic", 4), (1, "synthetic", 4),
                                                                                      (2, "real", 6)]


def test_a_pinch_on_a_touch_screen_zooms_by_the_spread_of_the_fingers(browser, server, home):
    page = reviewing(browser, server, home, "pinch", "pincher", n_per_arm=1, seed=6, viewport=SCREENS["tablet"], touch=True)
    expect()(page.locator("#review-progress")).to_contain_text("Image 1 of 2", timeout=30_000)
    page.wait_for_timeout(500)
    fit = scale(page)
    frame = page.locator("#review-viewer").bounding_box()
    x, y = frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2
    touch = page.context.new_cdp_session(page)

    def fingers(kind: str, apart: float) -> None:  # two fingers either side of the frame's centre
        points = [] if kind == "touchEnd" else [{"x": x - apart / 2, "y": y, "id": 1}, {"x": x + apart / 2, "y": y, "id": 2}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    fingers("touchStart", 80)
    for apart in range(100, 260, 20):
        fingers("touchMove", apart)
    fingers("touchEnd", 0)
    page.wait_for_timeout(200)
    assert scale(page) == pytest.approx(fit * 240 / 80, rel=0.02)  # fingers 3× further apart: 3× the zoom
    page.close()


def test_a_whole_rating_by_keyboard_alone_with_the_focus_always_visible(browser, server, home):
    page = reviewing(browser, server, home, "keyboard-only", "keyboarder", n_per_arm=1, seed=3, viewport=SCREENS["laptop"])
    expect()(page.locator("#review-progress")).to_contain_text("Image 1 of 2", timeout=30_000)
    press(page, "s3")
    for key in "ynu":  # each answers the marked (first open) question
        page.keyboard.press(key)
    assert checked(page) == {"answer-call": "synthetic", "answer-realism": "3", "answer-abcd-asymmetry": "yes",
                             "answer-abcd-border": "no", "answer-abcd-colour": "unsure"}
    assert page.locator("#answer-abcd-diameter").evaluate("e => e.classList.contains('abcd-current')")
    page.keyboard.press("y")
    page.keyboard.press("b")  # mark B again, and change its answer
    page.keyboard.press("u")
    assert checked(page)["answer-abcd-border"] == "unsure"

    page.keyboard.press("m")  # M goes to the comment box ...
    assert page.evaluate("() => document.activeElement.closest('#answer-comment') !== null")
    page.keyboard.type("typed, y n u ignored as keys")  # typing in the comment is text, not shortcuts
    assert checked(page)["answer-abcd-border"] == "unsure"
    page.keyboard.press("Escape")  # ... and Esc back to the image, where the keys act again
    assert page.evaluate("() => document.activeElement.id") == "review-viewer"
    page.keyboard.press("c")
    page.keyboard.press("n")
    assert checked(page)["answer-abcd-colour"] == "no"
    page.keyboard.press("m")
    page.keyboard.press("Tab")  # leave the comment by keyboard; the focused control shows a visible ring
    focus = page.evaluate("() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }")
    assert focus[0] != "none" and focus[1] != "0px"
    page.locator("#save-next").focus()
    page.keyboard.press("Enter")
    expect()(page.locator("#review-progress")).to_contain_text("Image 2 of 2 · 1 / 2 rated", timeout=30_000)
    page.locator("#review-study input").focus()  # tabbing through the study picker leaves no list open over the image
    page.keyboard.press("ArrowDown")
    expect()(page.get_by_role("listbox")).to_be_visible()
    page.keyboard.press("Tab")
    expect()(page.get_by_role("listbox")).to_be_hidden()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Escape")
    expect()(page.get_by_role("listbox")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.id") == "review-viewer"
    page.close()
    columns = "r.call, r.realism, r.abcd_asymmetry, r.abcd_border, r.abcd_colour, r.abcd_diameter, r.comment"
    assert saved_ratings(home, "keyboarder", "keyboard-only", columns) == [
        ("synthetic", 3, "yes", "unsure", "no", "yes", "typed, y n u ignored as keys")
    ]


def test_the_next_image_is_drawn_at_once_the_answer_saved_before_the_position_moves_and_a_refused_save_kept(browser, server, home):
    page = reviewing(browser, server, home, "instant", "quick", n_per_arm=2, seed=4, viewport=SCREENS["laptop"])
    progress = page.locator("#review-progress")
    expect()(progress).to_contain_text("Image 1 of 4 · 0 / 4 rated", timeout=30_000)
    page.wait_for_timeout(500)  # time to fetch the next image ahead
    ahead = page.locator("#review-viewer").get_attribute("data-next")
    seen_while_saving = []

    def hold_the_answer(route):
        """The answer is on its way: what the reviewer sees at this moment."""
        if route.request.method == "POST":
            seen_while_saving.append(page.evaluate(
                "() => [document.querySelector('#review-viewer img.review-overlay')?.getAttribute('src'),"
                " document.querySelector('#review-progress').innerText,"
                " document.querySelector('#review-form').classList.contains('saving')]"))
        route.continue_()

    page.route("**/gradio_api/queue/join*", hold_the_answer)
    press(page, "r2nnnn")
    page.keyboard.press("Enter")
    expect()(progress).to_contain_text("Image 2 of 4 · 1 / 4 rated", timeout=30_000)
    # Before the answer even left, the next image was on screen; the position moved only once it was stored.
    assert seen_while_saving == [[ahead, "Image 1 of 4 · 0 / 4 rated", True]]
    assert page.locator("#review-picture").get_attribute("src") == ahead
    assert page.locator("img.review-overlay").count() == 0
    assert page.evaluate("() => window.fairskinReview.latencies.length") == 1
    page.unroute("**/gradio_api/queue/join*")

    second = page.locator("#review-picture").get_attribute("src")
    assert fairskin(home, "study", "close", "--name", "instant").returncode == 0  # the admin closes the study meanwhile
    press(page, "s7yyyy")
    page.keyboard.press("Enter")
    expect()(page.locator("#review-message")).to_contain_text("Not saved: This study is closed", timeout=30_000)
    expect()(progress).to_contain_text("Image 2 of 4 · 1 / 4 rated")
    assert page.locator("img.review-overlay").count() == 0  # back on the image whose answer was not saved
    assert page.locator("#review-picture").evaluate("e => [e.getAttribute('src'), e.style.visibility]") == [second, ""]
    assert checked(page) == {"answer-call": "synthetic", "answer-realism": "7", **{f"answer-abcd-{q}": "yes" for q in QUESTIONS}}
    page.close()
    assert saved_ratings(home, "quick", "instant", "g.position, r.call, r.realism") == [(0, "real", 2)]


def test_a_practice_round_comes_first_shows_each_answer_and_counts_for_nothing(browser, server, home):
    make_study(home, "practised", 2, ["trainee"], seed=5, n_practice=2)
    page = reviewing(browser, server, home, "practised", "trainee", viewport=SCREENS["laptop"], made=True)
    progress, shown_truths = page.locator("#review-progress"), []
    for number, (call_key, call) in enumerate((("r", "real"), ("s", "synthetic")), start=1):
        expect()(progress).to_contain_text(f"Practice image {number} of 2 · not counted", timeout=30_000)
        press(page, f"{call_key}5uuuu")
        page.keyboard.press("Enter")
        answer = page.locator("#practice-answer")
        expect()(answer).to_contain_text(f"you answered {call}", timeout=30_000)
        shown_truths.append((answer.inner_text().split("This image is ")[1].split(";")[0], call))
        page.keyboard.press("Enter")  # seen: on to the next image
    expect()(progress).to_contain_text("Image 1 of 4 · 0 / 4 rated", timeout=30_000)
    expect()(page.locator("#review-message")).to_contain_text("Practice over")
    page.close()
    with database(home) as db:
        stored = db.execute("SELECT i.source, r.call FROM practice_ratings r JOIN practice_images i ON i.id = r.image_id"
                            " JOIN accounts a ON a.id = r.reviewer_id WHERE a.username = 'trainee'").fetchall()
    assert sorted(stored) == sorted(shown_truths)  # the answer shown is the image's truth, and the answer was kept
    assert saved_ratings(home, "trainee", "practised", "g.position") == []  # nothing counted


def test_an_image_the_reviewer_cannot_judge_is_set_aside_with_a_reason_and_can_be_rated_later(browser, server, home):
    page = reviewing(browser, server, home, "unsure-reader", "doubter", n_per_arm=1, seed=8, viewport=SCREENS["laptop"])
    progress = page.locator("#review-progress")
    expect()(progress).to_contain_text("Image 1 of 2 · 0 / 2 rated", timeout=30_000)
    page.keyboard.press("m")
    page.keyboard.type("out of focus")
    page.locator("#cannot-assess").click()
    expect()(progress).to_contain_text("Image 2 of 2 · 1 / 2 rated", timeout=30_000)  # on to the next: it is answered
    with database(home) as db:
        assert db.execute("SELECT x.reason FROM cannot_assess x JOIN accounts a ON a.id = x.reviewer_id"
                          " WHERE a.username = 'doubter'").fetchall() == [("out of focus",)]
    press(page, "")
    page.keyboard.press("ArrowLeft")  # back to it: said so, its reason in the comment box, no answer chosen
    expect()(page.locator("#set-aside")).to_contain_text("You set this image aside: cannot assess", timeout=30_000)
    expect()(page.locator("#answer-comment textarea")).to_have_value("out of focus")
    assert checked(page) == {}
    press(page, "r4yyyy")
    page.keyboard.press("Enter")  # rated after all: the rating replaces the set-aside
    expect()(progress).to_contain_text("Image 2 of 2 · 1 / 2 rated", timeout=30_000)
    page.close()
    assert saved_ratings(home, "doubter", "unsure-reader", "g.position, r.call, r.comment") == [(0, "real", "out of focus")]


def test_a_study_that_asks_how_sure_takes_the_certainty_by_key_refuses_a_call_without_it_and_fits_one_screen(
        browser, server, home, tmp_path):
    real, synthetic = arm_manifests(home)
    made = fairskin(home, "study", "create", "--name", "how-sure", "--real", real, "--synthetic", synthetic, "--n-per-arm", 1,
                    "--seed", 4, "--ask-certainty")
    assert made.returncode == 0, made.stderr
    enrolled = fairskin(home, "study", "add-reviewer", "--name", "how-sure", "--username", "surer", "--password-stdin",
                        stdin="password-surer\n")
    assert enrolled.returncode == 0, enrolled.stderr
    width, height = SCREENS["laptop"]
    page = reviewing(browser, server, home, "how-sure", "surer", viewport=(width, height), made=True)
    progress = page.locator("#review-progress")
    expect()(progress).to_contain_text("Image 1 of 2 · 0 / 2 rated", timeout=30_000)
    expect()(page.locator("#answer-certainty")).to_be_visible()
    for size in ((1280, 720), (1024, 768), (width, height)):  # one more control, still one screen (the certainty's choices too)
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.wait_for_function("([w, h]) => document.scrollingElement.scrollHeight <= h && document.scrollingElement.scrollWidth <= w",
                               arg=list(size), timeout=10_000)
        for control in (*CONTROLS, "#answer-certainty", "#answer-certainty label:last-child"):
            expect()(page.locator(control).first).to_be_in_viewport(ratio=1)
        inside = page.locator("#answer-certainty").evaluate(  # no choice cut off by its box
            "e => [...e.querySelectorAll('label')].every(l => l.getBoundingClientRect().right <= e.getBoundingClientRect().right + 1)")
        assert inside, size
    press(page, "s5yyyy")
    page.keyboard.press("Enter")  # no certainty yet: asked for, nothing saved, the image stays
    expect()(page.locator("#review-message")).to_contain_text("pick how sure you are of the call", timeout=30_000)
    press(page, "v")
    assert checked(page)["answer-certainty"] == "3"
    page.wait_for_function(  # the chosen one is filled, as the call's is: the choice shows without a radio circle
        "() => getComputedStyle(document.querySelector('#answer-certainty label:has(input:checked)')).color === 'rgb(255, 255, 255)'",
        timeout=10_000)
    page.screenshot(path=str(Path(os.environ.get("FAIRSKIN_SCREENSHOTS", tmp_path)) / "review-certainty-1366x768.png"))
    page.keyboard.press("Enter")
    expect()(progress).to_contain_text("Image 2 of 2 · 1 / 2 rated", timeout=30_000)
    press(page, "rg2nnnn")
    page.keyboard.press("Enter")
    expect()(progress).to_contain_text("2 / 2 rated", timeout=30_000)
    page.close()
    assert saved_ratings(home, "surer", "how-sure", "r.call, r.certainty, r.realism") == [("synthetic", 3, 5), ("real", 1, 2)]
