"""The candidate JSON API: the same flow as the pages, for the page's script and integrations.

Authenticate with the session cookie from POST /api/candidate/session; every write sends the
CSRF token from the state as the X-CSRF-Token header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.db import SessionDep, utcnow
from app.scoring import service as scoring_service
from app.submissions import service, views
from app.submissions.deps import (
    ApiCandidateDep,
    CandidateDep,
    CandidateRoute,
    commit_with_retry,
)
from app.submissions.schemas import (
    CandidateState,
    DraftWrite,
    ErrorBody,
    ReceiptRead,
    SaveResult,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No candidate session: open the invite again."},
    403: {"model": ErrorBody, "description": "Missing or wrong X-CSRF-Token header."},
    409: {
        "model": ErrorBody,
        "description": "Time is up, already submitted, not started, "
        "or a stale base_revision (code says which).",
    },
    413: {"model": ErrorBody, "description": "The body is larger than the configured limits."},
    422: {"model": ErrorBody, "description": "Every problem, each naming the comment or field."},
}

router = APIRouter(
    prefix="/api/candidate", tags=["candidate"], route_class=CandidateRoute, responses=ERRORS
)


@router.get("", response_model=CandidateState)
def read_state(candidate: CandidateDep) -> CandidateState:
    """The assessment, the clock, and the draft or receipt."""
    return views.candidate_state(candidate.invite, candidate.submission, candidate.csrf_token)


@router.post("/start", response_model=CandidateState)
def start(candidate: ApiCandidateDep, session: SessionDep) -> CandidateState:
    """Start the clock (starting again is harmless) and get the files to review."""
    submission = service.start_submission(session, candidate.invite)
    session.commit()
    scoring_service.warm_up()
    return views.candidate_state(candidate.invite, submission, candidate.csrf_token)


@router.put("/draft", response_model=SaveResult)
def save_draft(body: DraftWrite, candidate: ApiCandidateDep, session: SessionDep) -> SaveResult:
    """Replace the draft; refused with 409 when `base_revision` is stale or time is up."""
    if candidate.submission is None:
        raise service.NotStarted()
    draft = service.Draft(
        comments=[service.DraftComment(**c.model_dump()) for c in body.comments],
        summary=body.summary,
    )
    current = candidate.submission
    submission = commit_with_retry(
        session,
        lambda: service.save_draft(
            session, current, draft, base_revision=body.base_revision, save_id=body.save_id
        ),
    )
    # Every worker that serves a save gets its grader ready, so the submit, whichever worker
    # takes it, does not wait for training.
    scoring_service.warm_up()
    now = utcnow()
    return SaveResult(
        draft=views.draft_read(submission),
        server_time=now,
        seconds_left=service.seconds_left(submission, now),
    )


@router.post("/submit", response_model=ReceiptRead)
def submit(candidate: ApiCandidateDep, session: SessionDep) -> ReceiptRead:
    """Submit the saved draft; submitting again returns the same receipt."""
    if candidate.submission is None:
        raise service.NotStarted()
    current = candidate.submission
    commit_with_retry(session, lambda: service.submit(session, current))
    scoring_service.commit_and_score(session, later=True)
    return views.receipt_read(current)


@router.get("/receipt", response_model=ReceiptRead)
def receipt(candidate: CandidateDep) -> ReceiptRead:
    """The receipt of the submitted review."""
    if candidate.submission is None:
        raise service.NotStarted()
    return views.receipt_read(candidate.submission)
