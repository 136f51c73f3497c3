"""A first start: seconds from `fairskin serve` on an empty workspace to a working sign-in, against a bare Gradio app.

    python benchmarks/bench_first_start.py [--repeats 3]

A new user's first command is `./bootstrap.sh serve`; what they wait for is the sign-in page, then
a sign-in that works. Each repeat starts `fairskin serve` in a fresh process on a fresh, empty
workspace (so the embedded defaults are still to be made, in the background) and times:
- the first answer of the sign-in page (`GET /` → 200),
- the first successful sign-in of the demo admin (`POST /admin/login` → success).
The reference, in the same run and interleaved, is the floor of any such app: a fresh process
serving one Gradio Blocks with a sign-in, through the same FastAPI mount and uvicorn, to its first
200. Target on the 2-core CPU: under 15 s to a working sign-in.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.server import printed_accounts

BARE_APP = """
import sys, gradio as gr, uvicorn, fastapi
with gr.Blocks() as demo:
    gr.Markdown("hello")
server = gr.mount_gradio_app(fastapi.FastAPI(), demo, "/", auth=lambda u, p: True, ssr_mode=False)
uvicorn.run(server, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answered(url: str, data: dict | None = None) -> bool:
    """Whether ``url`` answers 200 (and, for a sign-in POST, says it succeeded)."""
    body = urllib.parse.urlencode(data).encode() if data else None
    try:
        with urllib.request.urlopen(url, data=body, timeout=2) as response:
            return response.status == 200 and (data is None or json.loads(response.read()).get("success", False))
    except (OSError, ValueError):
        return False


def wait_for(check, process: subprocess.Popen, started: float, timeout: float = 300) -> float:
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with status {process.returncode}")
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the server did not answer in time")
        time.sleep(0.05)
    return time.perf_counter() - started


def first_start(env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the sign-in page, seconds to a successful admin sign-in) of `fairskin serve` on an empty workspace."""
    home, port = tempfile.mkdtemp(prefix="fairskin-first-start-"), free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    log = Path(home) / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO,
                                   env={**env, "FAIRSKIN_HOME": home}, stdout=output, stderr=subprocess.DEVNULL)
    try:
        page = wait_for(lambda: answered(f"{url}/"), process, started)
        password = printed_accounts(log.read_text())["admin"]
        signed_in = wait_for(lambda: answered(f"{url}/admin/login", {"username": "admin", "password": password}), process, started)
    finally:
        process.kill()
        process.wait()
    return page, signed_in


def bare_gradio(env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        return wait_for(lambda: answered(f"http://127.0.0.1:{port}/"), process, started)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False"}
    pages, sign_ins, floors = [], [], []
    for _ in range(args.repeats):
        floors.append(bare_gradio(env))
        page, signed_in = first_start(env)
        pages.append(page)
        sign_ins.append(signed_in)
    floor = statistics.median(floors)
    print(f"machine: {os.cpu_count()} CPUs; {args.repeats} repeats, medians (min-max)")
    for name, times in (("bare Gradio app, first 200", floors), ("fairskin serve, sign-in page (GET /)", pages),
                        ("fairskin serve, admin signed in", sign_ins)):
        median = statistics.median(times)
        print(f"{name:40s} {median:6.2f} s ({min(times):.2f}-{max(times):.2f})  {median / floor:4.1f}x the bare app")


if __name__ == "__main__":
    main()
