"""A client for a running fairskin app that uses its public routes only, as a script (or an attacker imitating one) can.

Signs in with the app's own form (``POST login``, which gives a session cookie), reads the page's
``config``, and calls events through Gradio's documented HTTP API: ``POST gradio_api/call/<api_name>``
with every input's value, then the result from ``GET gradio_api/call/<api_name>/<event_id>`` (a
server-sent event stream). A session hash of its own keeps this session's server-side state
(``gr.State``) between calls, as a browser's page has.
"""

from __future__ import annotations

import json
import uuid

import requests


class CallError(RuntimeError):
    """The app refused or failed the call; the message is what the page would show."""


class AppSession:
    """One signed-in browser session (its own session hash, so its own server-side state)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 60):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        response = self.http.post(f"{self.base}/login", data={"username": username, "password": password}, timeout=timeout)
        if response.status_code != 200:
            raise CallError(f"login as {username!r} failed: {response.status_code} {response.text[:200]}")
        self.config = config = self.http.get(f"{self.base}/config", timeout=timeout).json()
        self.events = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}
        self.session_hash = uuid.uuid4().hex[:12]
        # Open the page as a browser does: the load event fills in this session's choices.
        initial = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        load = next(d for d in config["dependencies"] if d.get("api_name") == "page_load")
        self.page = self.call("page_load", *(initial.get(i) for i in load["inputs"]))

    def call(self, api_name: str, *data):
        """Run one event with the given input values (None for gr.State inputs); return its outputs."""
        joined = self.http.post(f"{self.base}/gradio_api/call/{api_name}", json={"data": list(data), "session_hash": self.session_hash},
                                timeout=self.timeout)
        if joined.status_code != 200:
            raise CallError(f"{api_name}: join refused with {joined.status_code}: {joined.text[:200]}")
        return self.result(api_name, joined.json()["event_id"])

    def result(self, api_name: str, event_id: str):
        """The outputs of an event this session joined the queue with (by `call`, or by a request made by hand)."""
        with self.http.get(f"{self.base}/gradio_api/call/{api_name}/{event_id}", stream=True, timeout=self.timeout) as stream:
            event = None
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    result = json.loads(line.removeprefix("data:"))
                    if event == "complete":
                        return result
                    raise CallError(f"{api_name}: {result.get('error') if isinstance(result, dict) else result}")
        raise CallError(f"{api_name}: the stream ended without a result")

    def get(self, url_or_path: str) -> requests.Response:
        url = url_or_path if url_or_path.startswith("http") else f"{self.base}{url_or_path}"
        return self.http.get(url, timeout=self.timeout)
