"""Logging that keeps secrets out: invite tokens never reach the access log.

An invite link's token is a credential until it is used, and the access log names every
path; it is replaced there by a fixed mark.
"""

from __future__ import annotations

import logging
import re

from app.invites.service import INVITE_PATH

REDACTED = "[token]"
_INVITE_TOKEN = re.compile(re.escape(INVITE_PATH) + r"[^/?#\s\"]+")


def redact(path: str) -> str:
    """`path` with any invite token replaced by a mark."""
    return _INVITE_TOKEN.sub(INVITE_PATH + REDACTED, path)


class RedactInviteTokens(logging.Filter):
    """Rewrites the path of uvicorn's access-log records (and any message) before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactInviteTokens) for f in access.filters):
        access.addFilter(RedactInviteTokens())
