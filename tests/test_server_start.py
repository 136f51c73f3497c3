"""A start of `fairskin serve` loads no model library: torch, diffusers and the rest load with the first image measured or made.

Importing them took 10 of the 15 CPU seconds before the server could answer, at every start (the
tests start it about twenty times). The start tested is the usual one: a workspace with its
embedded defaults, where the start makes the demo study, then an admin's and a reviewer's first
page, each filled by its load event (every tab of the admin app).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import REPO, demo_credentials, free_port
from .gradio_http import AppSession

MODEL_LIBRARIES = ("torch", "torchvision", "diffusers", "transformers", "peft", "accelerate", "lpips", "pytorch_fid")
REPORTED = "libraries loaded: "
# `fairskin serve` as the console script runs it, beside a thread that says which of the libraries named in its first
# argument the server has loaded, once a line arrives on its stdin.
SERVE_AND_REPORT = f"""
import json, sys, threading
from app.cli import main

def report():
    sys.stdin.readline()
    loaded = {{name: name in sys.modules for name in sys.argv[1].split(",")}}
    print({REPORTED!r} + json.dumps(loaded), flush=True)

threading.Thread(target=report, daemon=True).start()
main(sys.argv[2:])
"""


@pytest.mark.slow
def test_a_start_answers_its_first_pages_without_loading_a_model_library(started_home):
    port, log = free_port(), started_home / "serve.log"
    env = {**os.environ, "FAIRSKIN_HOME": str(started_home), "PYTHONPATH": str(REPO)}
    with open(log, "a") as output:
        server = subprocess.Popen([sys.executable, "-c", SERVE_AND_REPORT, ",".join(("gradio", *MODEL_LIBRARIES)), "serve", "--port",
                                   str(port)], cwd=started_home, env=env, stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT,
                                  text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while not _startup_finished(url):  # the demo study made from the embedded defaults
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        passwords = demo_credentials(started_home)
        admin = AppSession(f"{url}admin/", "admin", passwords["admin"])
        reviewer = AppSession(url, "reviewer1", passwords["reviewer1"])
        assert "Signed in as **admin**" in json.dumps(admin.page) and "Signed in as **reviewer1**" in json.dumps(reviewer.page)
        server.stdin.write("\n")
        server.stdin.flush()
        while REPORTED not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
        server.kill()
    loaded = json.loads(log.read_text().split(REPORTED)[1].splitlines()[0])
    assert loaded == {"gradio": True, **dict.fromkeys(MODEL_LIBRARIES, False)}


def _startup_finished(url: str) -> bool:
    try:
        return json.loads(urllib.request.urlopen(f"{url}startup-status", timeout=2).read())["finished"]
    except OSError:  # not listening yet
        return False
