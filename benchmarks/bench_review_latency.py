""""Save & next" latency with 20 reviewers rating at once: in real browsers, and over HTTP on the server.

    python benchmarks/bench_review_latency.py [--reviewers 20] [--ratings 100] [--browser-ratings 25] [--http-think 0]

Starts `fairskin serve` on a fresh workspace, creates a study of 100 images with N reviewers, then:
1. Server side: every reviewer rates at the same time with no pause, each in its own thread calling
   the app over HTTP as the tests do (`tests/gradio_http.py`: the sign-in cookie, Gradio's documented
   /gradio_api/call API, then the next image); one latency = from sending "Save & next" until the next
   image's bytes have arrived. References: the same with one reviewer, and fetching an already-served image.
   ``--http-think S``: each reviewer looks S seconds on average (exponential) before each save,
   a paced load instead of the stress test.
2. In the browser (Debian's chromium): K reviewers (default 1) rate in browser pages while the
   other 20 − K rate over HTTP at the same time with no pause, so the server is as busy as in 1.
   One latency = from the key press until the next image is drawn, as the page itself measures
   it (`window.fairskinReview.latencies`: the press, then the frame after the image is on
   screen); also the page's own round trip until the server has stored the answer. Reference in
   the same browser: fetching the same image file with the cache bypassed. (All 20 in browsers,
   `--browsers 20`, puts 20 renderers on the server's two cores: it measures this machine's CPU,
   not what a reviewer at their own computer sees.)
Prints Markdown tables for docs/benchmarks.md. Targets: drawn p95 < 100 ms in the browser, server p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # the browser the tests use
from tests.gradio_http import AppSession  # the same client the tests use

ANSWERS = ["yes", "no", "unsure", "yes", "", None]  # ABCD, the comment, no certainty (the demo does not ask it)


def fairskin(home: Path, *args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, input=stdin, text=True, check=True, capture_output=True)


def image_address(frame: str) -> str:
    """The image's address in the image frame the server sent."""
    return re.search(r'src="([^"]+)"', frame).group(1)


def save_and_next(session: AppSession, i: int) -> float:
    start = time.perf_counter()
    outputs = session.call("review_save", None, ("real", "synthetic")[i % 2], str(1 + i % 7), *ANSWERS)
    if outputs[3]:  # the next image, fetched as the browser would
        session.get(f"/{image_address(outputs[3])}").raise_for_status()
    return time.perf_counter() - start


def rate(url: str, username: str, ratings: int, barrier: threading.Barrier | None, think: float = 0.0) -> list[float]:
    """One reviewer's latencies; ``think``: mean seconds of looking before each save (exponential, seeded by name)."""
    session = AppSession(url, username, f"password-{username}")
    session.call("review_start", "bench")
    if barrier:
        barrier.wait()
    pauses = np.random.default_rng(list(username.encode())).exponential(think, ratings) if think else np.zeros(ratings)
    latencies = []
    for i, pause in enumerate(pauses):
        time.sleep(pause)
        latencies.append(save_and_next(session, i))
    return latencies


def rate_in_browsers(url: str, names: list[str], ratings: int, think: float) -> tuple[list[dict], list[float], list[float]]:
    """Each reviewer in their own browser context, all at once; returns (drawn ms, stored ms, static fetch ms)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for name in names:
            page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
            page.goto(url)
            page.get_by_label("username").fill(name)
            page.get_by_label("password").fill(f"password-{name}")
            page.get_by_role("button", name="Login").click()
            expect(page.locator("#signed-in")).to_contain_text(name, timeout=60_000)
            page.locator("#review-begin").click(timeout=60_000)  # the study opens by itself after sign-in
            expect(page.locator("#review-picture")).to_be_visible(timeout=60_000)
            pages.append(page)
        for i in range(ratings):  # round robin: each reviewer looks, answers and saves, while the others' saves are under way
            for page in pages:
                expect(page.locator("#review-progress")).to_contain_text(f"Image {i + 1} of", timeout=60_000)
                page.wait_for_timeout(think * 1000)  # looking at the image (a dermatologist takes several seconds)
                page.locator("body").click(position={"x": 2, "y": 2})
                for key in ("rs"[i % 2], str(1 + i % 7), "y", "n", "u", "y", "Enter"):
                    page.keyboard.press(key)
        for page in pages:
            expect(page.locator("#review-progress")).to_contain_text(f"{ratings} / ", timeout=60_000)
        drawn = [x for page in pages for x in page.evaluate("() => window.fairskinReview.latencies")]
        stored = [ms for page in pages for ms in page.evaluate("() => window.fairskinReview.saves")]
        static = pages[0].evaluate("""async () => {
            const url = document.querySelector('#review-picture').src, times = [];
            for (let i = 0; i < 200; i++) {
                const start = performance.now();
                await (await fetch(url, {cache: 'no-store'})).arrayBuffer();
                times.push(performance.now() - start);
            }
            return times; }""")
        browser.close()
    return drawn, stored, static


def summary(name: str, seconds: list[float], floor: float) -> str:
    ms = np.array(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return f"| {name} | {len(ms)} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {ms.max():.0f} | {p95 / floor:.1f}× |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--ratings", type=int, default=100)
    parser.add_argument("--browser-ratings", type=int, default=50, help="images each browser reviewer rates (0: skip the browsers)")
    parser.add_argument("--browsers", type=int, default=1, help="reviewers in browser pages; the others rate over HTTP meanwhile")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a browser reviewer looks at each image before answering")
    parser.add_argument("--http-think", type=float, default=0.0,
                        help="mean seconds the HTTP reviewers look at each image before saving (0: the no-pause stress test)")
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{args.port}/"
        try:
            for _ in range(1200):  # the server answers at once; the demo's arms are made in the background after that
                try:
                    if json.loads(urllib.request.urlopen(f"{url}startup-status", timeout=2).read())["finished"]:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            (real,) = (home / "phantoms").glob("default-*")  # the demo's arms, made by the first start
            (synthetic,) = (home / "synthetic").glob("default-model-*")
            fairskin(home, "study", "create", "--name", "bench", "--real", str(real / "manifest.csv"),
                     "--synthetic", str(synthetic / "manifest.csv"), "--n-per-arm", str(args.ratings // 2))
            names = [f"bench{i:02d}" for i in range(args.reviewers + 1)]
            in_browser = [f"browser{i:02d}" for i in range(args.browsers)] if args.browser_ratings else []
            alongside = [f"alongside{i:02d}" for i in range(args.reviewers - len(in_browser))] if in_browser else []
            for name in names + in_browser + alongside:
                fairskin(home, "study", "add-reviewer", "--name", "bench", "--username", name, "--password-stdin",
                         stdin=f"password-{name}\n")

            alone = rate(url, names[-1], min(args.ratings, 50), None)
            probe = AppSession(url, names[-1], f"password-{names[-1]}")
            image_url = "/" + image_address(probe.call("review_start", "bench")[3])
            fetches = []
            for _ in range(200):
                start = time.perf_counter()
                probe.get(image_url).raise_for_status()
                fetches.append(time.perf_counter() - start)
            barrier = threading.Barrier(args.reviewers)
            with ThreadPoolExecutor(args.reviewers) as pool:
                batches = pool.map(lambda n: rate(url, n, args.ratings, barrier, args.http_think), names[:-1])
                together = [s for batch in batches for s in batch]
            drawn, stored, static = [], [], []
            if in_browser:
                with ThreadPoolExecutor(len(alongside) + 1) as pool:
                    load = [pool.submit(rate, url, name, args.ratings, None) for name in alongside]  # the server kept busy
                    drawn, stored, static = rate_in_browsers(url, in_browser, args.browser_ratings, args.think)
                    [job.result() for job in load]
        finally:
            server.terminate()
            server.wait(30)
    floor = float(np.percentile(np.array(fetches) * 1000, 95))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print("| what | n | p50 ms | p95 ms | p99 ms | max ms | p95 vs static fetch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(summary("fetch an already-served image (reference floor)", fetches, floor))
    print(summary("Save & next → next image, 1 reviewer", alone, floor))
    pace = f"looking {args.http_think:g} s on average" if args.http_think else "no pause"
    print(summary(f"Save & next → next image, {args.reviewers} reviewers at once ({pace})", together, floor))
    if in_browser:
        browser_floor = float(np.percentile(static, 95))
        print(f"\nIn Chromium: {len(in_browser)} reviewer(s) in the browser, {args.browser_ratings} images each after {args.think:g} s "
              f"of looking, as the page measures, while {len(alongside)} more rate over HTTP with no pause:\n")
        print("| what | n | p50 ms | p95 ms | p99 ms | max ms | p95 vs static fetch |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print(summary("fetch the image file, cache bypassed (reference floor)", [t / 1000 for t in static], browser_floor))
        print(summary("Save & next → next image drawn", [x["ms"] / 1000 for x in drawn], browser_floor))
        ahead = [x["ms"] / 1000 for x in drawn if x["optimistic"]]
        waited = [x["ms"] / 1000 for x in drawn if not x["optimistic"]]
        if ahead and waited:  # the next image not yet fetched ahead (or none: the last one) waits for the server
            print(summary("… of which drawn from the copy fetched ahead", ahead, browser_floor))
            print(summary("… of which waited for the server", waited, browser_floor))
        print(summary("Save & next → answer stored (the page's round trip)", [t / 1000 for t in stored], browser_floor))


if __name__ == "__main__":
    main()
