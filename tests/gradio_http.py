"""A minimal client for a running fairskin app that speaks the browser's own protocol.

Signs in through Gradio's login form (cookie), then calls events the way the page does —
POST /gradio_api/queue/join with the event's id, results over the SSE stream
/gradio_api/queue/data — so tests exercise exactly what a browser (or an attacker imitating
one) can reach, private endpoints included.
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

    def call(self, api_name: str, *data, event_data: dict | None = None):
        """Run one event with the given input values (None for gr.State inputs); return its outputs."""
        joined = self.http.post(
            f"{self.base}/gradio_api/queue/join",
            json={
                "data": list(data), "event_data": event_data, "fn_index": self.events[api_name], "trigger_id": None,
                "session_hash": self.session_hash,
            },
            timeout=self.timeout,
        )
        if joined.status_code != 200:
            raise CallError(f"{api_name}: join refused with {joined.status_code}: {joined.text[:200]}")
        event_id = joined.json()["event_id"]
        with self.http.get(
            f"{self.base}/gradio_api/queue/data", params={"session_hash": self.session_hash}, stream=True, timeout=self.timeout
        ) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (None, event_id):
                    continue
                if message.get("msg") == "process_completed":
                    if not message.get("success"):
                        raise CallError(f"{api_name}: {message.get('output', {}).get('error') or message.get('title') or message}")
                    return message["output"]["data"]
                if message.get("msg") == "unexpected_error":
                    raise CallError(f"{api_name}: {message.get('message')}")
        raise CallError(f"{api_name}: the stream ended without a result")

    def get(self, url_or_path: str) -> requests.Response:
        url = url_or_path if url_or_path.startswith("http") else f"{self.base}{url_or_path}"
        return self.http.get(url, timeout=self.timeout)
