"""Sign-in back-off: after a few wrong passwords, each further try waits longer, per account and per address.

Three counts of failed sign-ins, each with its own allowance before waits begin: one account
from one address (a person mistyping: 5), one address over all accounts (password spraying:
20), one account over all addresses (guessing from many machines: 50). Past an allowance, the
next try waits 2 s, then 4, 8 … up to 15 minutes after the last failure; a try during the wait
is refused without checking the password. The wait depends only on the name typed, never on
whether the account exists, so it tells nothing about which accounts do. A sign-in that
succeeds clears its account's counts; failures are forgotten an hour after the last one.
Kept in memory: a restart forgets them (and signs everyone out).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_WAIT_S = 15 * 60
FORGET_AFTER_S = 60 * 60
MAX_TRACKED = 100_000  # keys kept at most; the oldest are forgotten first (a spray of random names cannot exhaust memory)
ALLOWANCES = {"account from address": 5, "address": 20, "account": 50}


@dataclass
class _Failures:
    count: int
    last: float


class SignInThrottle:
    """Counts failed sign-ins and says how long a new try must wait; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._failures: dict[tuple[str, ...], _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> dict[str, tuple[str, ...]]:
        name = username.strip().lower()
        return {"account from address": ("pair", name, address), "address": ("address", address), "account": ("account", name)}

    def wait(self, username: str, address: str) -> float:
        """Seconds before ``username`` may try again from ``address`` (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [0.0]
            for kind, key in self._keys(username, address).items():
                failures = self._failures.get(key)
                if failures is None or now - failures.last > FORGET_AFTER_S:
                    continue
                over = failures.count - ALLOWANCES[kind]
                if over > 0:
                    waits.append(failures.last + min(MAX_WAIT_S, 2.0**over) - now)
            return max(waits)

    def failed(self, username: str, address: str) -> int:
        """Count a wrong password; return how many failed in a row for this account from this address."""
        now = self._clock()
        with self._lock:
            for key in self._keys(username, address).values():
                failures = self._failures.pop(key, None)
                if failures is None or now - failures.last > FORGET_AFTER_S:
                    failures = _Failures(0, now)
                failures.count, failures.last = failures.count + 1, now
                self._failures[key] = failures  # re-inserted: the dict stays ordered by last failure
            while len(self._failures) > MAX_TRACKED:
                self._failures.pop(next(iter(self._failures)))
            return self._failures[self._keys(username, address)["account from address"]].count

    def succeeded(self, username: str, address: str) -> None:
        """A right password: the account's counts start again (the address's count decays on its own)."""
        keys = self._keys(username, address)
        with self._lock:
            self._failures.pop(keys["account from address"], None)
            self._failures.pop(keys["account"], None)
