"""The candidate behind a request: found by session cookie, with CSRF checks for writes."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.types import Message

from app.db import SessionDep
from app.invites import service as invite_service
from app.invites.models import Invite
from app.limits import service as limits
from app.scoring import service as scoring_service
from app.security import csrf_token_for, csrf_token_is_valid
from app.settings import get_settings
from app.submissions import service
from app.submissions.models import Submission

T = TypeVar("T")

COOKIE_NAME = "redline_candidate"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"


class CandidateSessionMissing(Exception):
    """The request carries no valid candidate session (cookie missing, replaced or revoked)."""

    def __init__(self) -> None:
        super().__init__(
            "This browser has no open session for an assessment, or it was replaced when the "
            "invite link was opened elsewhere. Open the link from your invite again to "
            "continue; everything you saved is kept."
        )


@dataclass
class Candidate:
    """The invite, submission (once started) and session of the candidate on this request."""

    invite: Invite
    submission: Submission | None
    session_token: str

    @property
    def csrf_token(self) -> str:
        """The token forms and API writes must send back."""
        return csrf_token_for(self.session_token)


def get_candidate(request: Request, session: SessionDep) -> Candidate:
    """The candidate of this request; an overdue draft is submitted on the way."""
    token = request.cookies.get(COOKIE_NAME)
    holder = invite_service.session_holder(session, token)
    if holder is None or holder[0].revoked_at is not None or token is None:
        raise CandidateSessionMissing()
    invite, submission = holder
    if request.method in UNSAFE_METHODS:
        try:
            limits.hit(session, limits.CANDIDATE_SAVE, str(invite.id))
        except limits.RateLimited:
            session.commit()  # a refused save still counts
            raise
    if submission is not None and service.finalize_if_overdue(session, submission):
        # Closing an overdue draft must stick even when this request is then refused.
        scoring_service.commit_and_score(session, later=True)
    return Candidate(invite=invite, submission=submission, session_token=token)


CandidateDep = Annotated[Candidate, Depends(get_candidate)]


def check_csrf(candidate: Candidate, submitted: str | None) -> None:
    """Refuse a write whose CSRF token does not belong to the candidate's session."""
    if not csrf_token_is_valid(candidate.session_token, submitted):
        raise HTTPException(
            403,
            "This page is out of date or was not sent by Redline (its "
            "security token does not match). Reload the page and try "
            "again; everything you saved is kept.",
        )


async def api_candidate(
    candidate: CandidateDep, x_csrf_token: Annotated[str | None, Header()] = None
) -> Candidate:
    """The candidate of a JSON write, which must carry the CSRF token in a header.

    Async, though it does no I/O: an HMAC is microseconds, while a sync dependency is a trip
    to a pool thread and back, each leg waiting for the interpreter lock behind whatever
    page the worker is building, on every save.
    """
    check_csrf(candidate, x_csrf_token)
    return candidate


ApiCandidateDep = Annotated[Candidate, Depends(api_candidate)]


def set_session_cookie(response: Response, session_token: str) -> None:
    """Hand the candidate's session to the browser (HttpOnly, same-site)."""
    settings = get_settings()
    response.set_cookie(
        COOKIE_NAME,
        session_token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def body_limit() -> int:
    """The largest request body a candidate write may have, in bytes.

    A full draft at every limit, with each character escaped to six bytes as JSON may do;
    anything larger is refused before it is read into memory.
    """
    s = get_settings()
    chars = s.max_summary_chars + s.max_comments * s.max_comment_chars
    return 6 * chars + 1_000 * s.max_comments + 64 * 1024


def _too_large(size: int, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"The request is {size:,} bytes, the limit is {limit:,}. "
        "Nothing was saved from it; your earlier work is kept.",
    )


class CandidateRoute(APIRoute):
    """A candidate route: bodies over `body_limit()` get 413, and answers are never cached.

    No caching, so the back button or a restored tab never shows a stale draft, clock or
    CSRF token.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so the body is counted as it arrives."""
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            """The route's handler behind the size check, with no-store on its answer."""
            limit = body_limit()
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(int(declared), limit)
            received = 0
            receive = request.receive

            async def counting_receive() -> Message:
                """The next body chunk, refused once the total passes the limit."""
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _too_large(received, limit)
                return message

            response = await handler(Request(request.scope, counting_receive))
            response.headers["Cache-Control"] = "no-store"
            return response

        return limited


BUSY_RETRIES = 3


def _database_busy(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig).lower()


def commit_with_retry(session: Session, operation: Callable[[], T]) -> T:
    """Run a write and commit it; when SQLite reports another writer, retry on a fresh snapshot.

    SQLite refuses to turn a read transaction into a write when another connection committed
    in between (a keep-alive save racing the reloaded page's save); a fresh try then succeeds.
    """
    for attempt in range(BUSY_RETRIES):
        try:
            result = operation()
            session.commit()
            return result
        except OperationalError as exc:
            if not _database_busy(exc):
                raise
            session.rollback()
            if attempt == BUSY_RETRIES - 1:
                raise HTTPException(
                    503,
                    "The server is busy; nothing was lost. Try again in a moment.",
                    headers={"Retry-After": "1"},
                ) from exc
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
