"""Admin and reviewer accounts: usernames with scrypt-hashed passwords.

scrypt (Python's standard library) is memory-hard, so a stolen database does not give the
passwords away cheaply; each hash carries its own salt and parameters. A disabled account keeps
its ratings (they still count) but can neither sign in nor pass any role check. A new password or
a disabling also ends the account's sign-ins already open (`session_is_current`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import sqlite3
import time

from .store import ReviewStore, utc_now

ROLES = ("admin", "reviewer")
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,39}")
MIN_PASSWORD = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(ValueError):
    """A refused account operation; the message says why."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


@functools.cache
def _unknown_user_hash() -> str:
    """Checked against for unknown usernames, so a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_hex(16))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


def _check_password(password: str) -> None:
    """The one password rule, for new accounts and reset passwords alike."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")


def create_account(store: ReviewStore, username: str, password: str, role: str) -> int:
    """Create an account; refuse bad names, short passwords and names already taken."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not USERNAME.fullmatch(username):
        raise AccountError(f"username {username!r}: use 2-40 letters, digits, '.', '_' or '-', starting with a letter or digit")
    _check_password(password)
    try:
        with store.write() as db:
            cursor = db.execute(
                "INSERT INTO accounts (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                [username, hash_password(password), role, utc_now()],
            )
            return cursor.lastrowid
    except sqlite3.IntegrityError:
        raise AccountError(f"username {username!r} is already taken") from None


def authenticate(store: ReviewStore, username: str, password: str) -> str | None:
    """The account's role if the password is right and the account enabled, else None (same cost either way)."""
    row = store.db.execute("SELECT password_hash, role, disabled FROM accounts WHERE username = ?", [username]).fetchone()
    if row is None:
        verify_password(password, _unknown_user_hash())
        return None
    return row["role"] if verify_password(password, row["password_hash"]) and not row["disabled"] else None


def reviewer_usernames(store: ReviewStore) -> list[str]:
    """Every reviewer account's username, disabled ones included, in alphabetical order."""
    return [row["username"] for row in store.db.execute("SELECT username FROM accounts WHERE role = 'reviewer' ORDER BY username")]


def role_of(store: ReviewStore, username: str | None) -> str | None:
    """The role of a signed-in user (None for no user, an unknown one or a disabled one).

    Every handler checks this on every call, so disabling an account shuts out its open browser
    sessions at once."""
    if not username:
        return None
    row = store.db.execute("SELECT role FROM accounts WHERE username = ? AND NOT disabled", [username]).fetchone()
    return row["role"] if row else None


def session_is_current(store: ReviewStore, username: str, signed_in_at: float) -> bool:
    """Whether a sign-in made at ``signed_in_at`` (Unix seconds) still counts: the account exists, is enabled, and
    neither got a new password nor was disabled since."""
    row = store.db.execute("SELECT disabled, sessions_ended_at FROM accounts WHERE username = ?", [username]).fetchone()
    return row is not None and not row["disabled"] and (row["sessions_ended_at"] is None or signed_in_at > row["sessions_ended_at"])


def _existing(store: ReviewStore, username: str):
    row = store.db.execute("SELECT id, role, disabled, sessions_ended_at FROM accounts WHERE username = ?", [username]).fetchone()
    if row is None:
        raise AccountError(f"there is no account named {username!r}; check the spelling of the username")
    return row


def reset_password(store: ReviewStore, username: str, new_password: str) -> None:
    """Give an account a new password (same rule as new accounts); the old one, and every sign-in made with it, stop
    working at once."""
    _existing(store, username)
    _check_password(new_password)
    with store.write() as db:
        db.execute("UPDATE accounts SET password_hash = ?, sessions_ended_at = ? WHERE username = ?",
                   [hash_password(new_password), time.time(), username])


def set_disabled(store: ReviewStore, username: str, disabled: bool) -> None:
    """Disable (or enable again) an account; its ratings are kept and still counted, its open sign-ins end.

    The last enabled admin cannot be disabled: no one could sign in to enable it again."""
    with store.write() as db:
        row = _existing(store, username)
        if disabled and row["role"] == "admin" and not row["disabled"]:
            others = db.execute("SELECT count(*) FROM accounts WHERE role = 'admin' AND NOT disabled AND id != ?", [row["id"]])
            if others.fetchone()[0] == 0:
                raise AccountError(f"{username!r} is the only admin account that can sign in; create another admin "
                                   "account before disabling this one")
        ended = time.time() if disabled else row["sessions_ended_at"]
        db.execute("UPDATE accounts SET disabled = ?, sessions_ended_at = ? WHERE id = ?", [int(bool(disabled)), ended, row["id"]])


def account_id(store: ReviewStore, username: str) -> int | None:
    row = store.db.execute("SELECT id FROM accounts WHERE username = ?", [username]).fetchone()
    return row["id"] if row else None
