"""Tokens for links, sessions and CSRF protection.

Links and cookies carry random tokens; the database keeps only their SHA-256, so a leaked
database does not hand out working links or sessions. A CSRF token is an HMAC of the session
token under the secret key: it needs no storage and is bound to one browser session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app.settings import get_settings

TOKEN_BYTES = 32  # 256 bits; invites need at least 128


def new_token() -> str:
    """A fresh unguessable URL-safe token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database stores in place of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that goes with one session cookie."""
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_token_is_valid(session_token: str | None, submitted: str | None) -> bool:
    """Whether `submitted` is the CSRF token of `session_token` (constant-time)."""
    if not session_token or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(session_token), submitted)
