"""Opening an invite link: the token is exchanged for a session cookie and leaves the URL."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.db import SessionDep
from app.invites import service
from app.invites.models import Invite
from app.limits import service as limits
from app.scoring import service as scoring_service
from app.submissions import service as submission_service
from app.submissions import views
from app.submissions.deps import COOKIE_NAME, Candidate, CandidateRoute, set_session_cookie
from app.submissions.schemas import CandidateState, ErrorBody, SessionCreate

router = APIRouter(route_class=CandidateRoute)


def _open(session: Session, request: Request, token: str) -> tuple[Invite, str]:
    try:
        return service.open_invite(
            session, token, current_session_token=request.cookies.get(COOKIE_NAME)
        )
    except limits.RateLimited:
        session.commit()  # a refused open still counts
        raise


@router.get("/i/{token}", include_in_schema=False)
def open_link(token: str, request: Request, session: SessionDep) -> RedirectResponse:
    """Open an invite: set the session cookie and redirect so the token leaves the address bar."""
    _invite, session_token = _open(session, request, token)
    scoring_service.commit_and_score(session, later=True)
    response = RedirectResponse("/take", status_code=303)
    set_session_cookie(response, session_token)
    # The token must not leak to other sites through the Referer of the next page.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post(
    "/api/candidate/session",
    response_model=CandidateState,
    tags=["candidate"],
    responses={404: {"model": ErrorBody, "description": "The link is unknown, expired or used."}},
)
def create_session(body: SessionCreate, request: Request, session: SessionDep) -> JSONResponse:
    """Exchange an invite token for a candidate session cookie; returns the state."""
    invite, session_token = _open(session, request, body.token)
    scoring_service.commit_and_score(session, later=True)
    submission = submission_service.submission_for_invite(session, invite)
    candidate = Candidate(invite=invite, submission=submission, session_token=session_token)
    state = views.candidate_state(invite, submission, candidate.csrf_token)
    response = JSONResponse(state.model_dump(mode="json"))
    set_session_cookie(response, session_token)
    return response
