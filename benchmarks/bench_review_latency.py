""""Save & next" latency with 20 reviewers rating at once, over HTTP against a real server.

    python benchmarks/bench_review_latency.py [--reviewers 20] [--ratings 100]

Starts `fairskin serve` on a fresh workspace, creates a study of 100 images with N reviewers,
and has every reviewer rate at the same time, each in its own thread speaking the browser's
protocol. One latency is the time from sending "Save & next" until the next image's bytes have
arrived: what a reviewer waits for. References in the same run: the same round trip with a
single reviewer, and fetching an already-served image file (the server's floor).
Prints a Markdown table for docs/benchmarks.md; the target is p95 < 300 ms with 20 reviewers.
"""

from __future__ import annotations

import argparse
import os
import platform
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

from tests.gradio_http import AppSession  # the same client the tests use

ANSWERS = ["yes", "no", "unsure", "yes", ""]


def fairskin(home: Path, *args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, input=stdin, text=True, check=True, capture_output=True)


def save_and_next(session: AppSession, i: int) -> float:
    start = time.perf_counter()
    outputs = session.call("review_save", None, ("real", "synthetic")[i % 2], str(1 + i % 7), *ANSWERS)
    if outputs[3]:  # the next image, fetched as the browser would
        session.get(outputs[3]["url"]).raise_for_status()
    return time.perf_counter() - start


def rate(url: str, username: str, ratings: int, barrier: threading.Barrier | None) -> list[float]:
    session = AppSession(url, username, f"password-{username}")
    session.call("review_start", "bench")
    if barrier:
        barrier.wait()
    return [save_and_next(session, i) for i in range(ratings)]


def summary(name: str, seconds: list[float], floor: float) -> str:
    ms = np.array(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return f"| {name} | {len(ms)} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {ms.max():.0f} | {p95 / floor:.1f}× |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--ratings", type=int, default=100)
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "FAIRSKIN_HOME": str(home), "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{args.port}/"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            (real,) = (home / "phantoms").glob("default-*")  # the demo's arms, made by the first start
            (synthetic,) = (home / "synthetic").glob("default-model-*")
            fairskin(home, "study", "create", "--name", "bench", "--real", str(real / "manifest.csv"),
                     "--synthetic", str(synthetic / "manifest.csv"), "--n-per-arm", str(args.ratings // 2))
            names = [f"bench{i:02d}" for i in range(args.reviewers + 1)]
            for name in names:
                fairskin(home, "study", "add-reviewer", "--name", "bench", "--username", name, "--password-stdin",
                         stdin=f"password-{name}\n")

            alone = rate(url, names[-1], min(args.ratings, 50), None)
            probe = AppSession(url, names[-1], f"password-{names[-1]}")
            image_url = probe.call("review_start", "bench")[3]["url"]
            fetches = []
            for _ in range(200):
                start = time.perf_counter()
                probe.get(image_url).raise_for_status()
                fetches.append(time.perf_counter() - start)
            barrier = threading.Barrier(args.reviewers)
            with ThreadPoolExecutor(args.reviewers) as pool:
                together = [s for batch in pool.map(lambda n: rate(url, n, args.ratings, barrier), names[:-1]) for s in batch]
        finally:
            server.terminate()
            server.wait(30)
    floor = float(np.percentile(np.array(fetches) * 1000, 95))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print("| what | n | p50 ms | p95 ms | p99 ms | max ms | p95 vs static fetch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(summary("fetch an already-served image (reference floor)", fetches, floor))
    print(summary("Save & next → next image, 1 reviewer", alone, floor))
    print(summary(f"Save & next → next image, {args.reviewers} reviewers at once", together, floor))


if __name__ == "__main__":
    main()
