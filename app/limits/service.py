"""Rate limits that hold across worker processes: counted in the database, atomically.

Each limited thing has a counter with a fixed window. A hit is one upsert that starts a new
window or adds one, and returns the count, so parallel requests can never all see "one below
the limit": the database orders them. Callers count before they do the work (check the
password, open the invite, save), and commit the count at once where an error later in the
request must not undo it.

Sign-in is limited per (address, account) pair and per address, never per account alone:
an attacker spraying wrong passwords at someone's account from elsewhere uses up only their
own addresses' allowance, and the owner can still sign in from theirs. The answer is the
same whether or not the account exists, because unknown e-mails are counted just the same.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import UTCDateTime, utcnow
from app.limits.models import RateCounter


@dataclass(frozen=True)
class Limit:
    """At most `hits` per `window` for one kind of key."""

    kind: str
    hits: int
    window: timedelta
    message: str


SIGN_IN_PAIR = Limit(
    "sign-in-pair",
    10,
    timedelta(minutes=15),
    "Too many sign-in attempts for this e-mail address from your network.",
)
SIGN_IN_ADDRESS = Limit(
    "sign-in-address", 50, timedelta(minutes=15), "Too many sign-in attempts from your network."
)
INVITE_OPEN = Limit(
    "invite-open", 30, timedelta(minutes=10), "This invite link was opened too many times."
)
CANDIDATE_SAVE = Limit(
    "candidate-save", 120, timedelta(minutes=1), "Too many saves in a short time."
)


class RateLimited(Exception):
    """A limit was reached; `retry_after` is how many seconds until its window ends."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        minutes = math.ceil(retry_after / 60)
        wait = f"{retry_after} seconds" if retry_after < 120 else f"{minutes} minutes"
        super().__init__(f"{limit.message} Try again in {wait}.")


def key_for(limit: Limit, *parts: str) -> str:
    """The counter's key: the kind and a digest, so no e-mail or address is stored in clear."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()
    return f"{limit.kind}:{digest[:48]}"


def hit(session: Session, limit: Limit, *parts: str, now: datetime | None = None) -> None:
    """Count one attempt on `parts`; RateLimited if that makes more than the limit allows.

    The attempt counts even when it is refused, so hammering a closed door keeps it closed
    only until the window ends, never longer.
    """
    now = now or utcnow()
    key = key_for(limit, *parts)
    table = RateCounter.__table__
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    expired = table.c.window_start <= literal(now - limit.window, UTCDateTime())
    fresh = literal(now, UTCDateTime())
    statement = (
        insert(table)
        .values(key=key, window_start=now, hits=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((expired, 1), else_=table.c.hits + 1),
                "window_start": case((expired, fresh), else_=table.c.window_start),
            },
        )
        .returning(table.c.hits, table.c.window_start)
    )
    hits, window_start = session.execute(statement).one()
    if hits > limit.hits:
        start = UTCDateTime().process_result_value(window_start, None) or now
        if isinstance(start, str):  # SQLite returns the raw text from RETURNING
            start = datetime.fromisoformat(start).replace(tzinfo=now.tzinfo)
        retry_after = max(1, math.ceil((start + limit.window - now).total_seconds()))
        raise RateLimited(limit, retry_after)


def reset(session: Session, limit: Limit, *parts: str) -> None:
    """Forget the attempts on `parts` (after a successful sign-in)."""
    session.execute(delete(RateCounter).where(RateCounter.key == key_for(limit, *parts)))


def sweep(session: Session, now: datetime | None = None) -> None:
    """Delete counters whose window ended long ago, so the table stays small."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff))
