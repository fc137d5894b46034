"""Close overdue drafts in the background, so pages that list submissions only read.

A candidate who never comes back leaves a draft open past its deadline; it must still reach
the grading queue soon after its time (and grace) run out. Each worker process runs one sweep
thread for as long as the app is up; several workers sweeping at once close each draft once
(closing is a conditional update). `redline submissions close-overdue` does the same for cron.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.scoring import service as scoring_service

logger = logging.getLogger(__name__)

# How long an overdue draft may wait for the sweep after its grace period ends: short next to
# the grace period (60 s by default), and one indexed query per worker when nothing is due.
INTERVAL_SECONDS = 5.0

# Tests share one uncommitted session with the app, which a sweep thread could not see and
# would wait on; they switch it off and call `sweep_once` themselves.
ENABLED = True


def sweep_once(session: Session) -> None:
    """Submit every draft whose time ran out, commit, and queue them for grading."""
    scoring_service.close_overdue_and_score(session, later=True)


def _sweep() -> None:
    from app.db import get_sessionmaker, write_intent
    from app.submissions.service import overdue_drafts

    with get_sessionmaker()() as session:
        if not overdue_drafts(session):
            return
    # Closing writes: on SQLite, take the write lock when the transaction begins, as a write
    # request does, rather than fail upgrading a read transaction another writer overtook.
    write_intent.set(True)
    try:
        with get_sessionmaker()() as session:
            sweep_once(session)
    finally:
        write_intent.set(False)


def _run(stop: threading.Event) -> None:
    failing = False
    while True:
        try:
            _sweep()
            failing = False
        except Exception:
            # A database that is down or not migrated yet fails every few seconds: say so
            # once, with the cause, until a sweep succeeds again.
            if not failing:
                logger.exception("closing overdue drafts failed; retrying every few seconds")
            failing = True
        if stop.wait(INTERVAL_SECONDS):
            return


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the sweep from start-up (catching up on drafts that ran out while down) to shutdown."""
    if not ENABLED:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(stop,), name="overdue-sweep", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=INTERVAL_SECONDS + 5)
