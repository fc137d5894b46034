"""How candidate-facing errors look: JSON naming every problem for the API, pages for people."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from app.submissions import service
from app.templating import templates

STATUS = {
    service.DraftInvalid: 422,
    service.InviteClosed: 410,
    service.AssessmentWithdrawn: 410,
    service.CommentNotFound: 404,
}
TITLES = {
    service.DeadlinePassed: "Time is up",
    service.AlreadySubmitted: "Already submitted",
    service.DraftConflict: "Changed in another tab",
    service.DraftInvalid: "Not saved",
    service.InviteClosed: "Invite closed",
    service.AssessmentWithdrawn: "Assessment withdrawn",
    service.NotStarted: "Not started",
    service.CommentNotFound: "Comment not found",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def submission_error_response(request: Request, exc: service.SubmissionError) -> Response:
    """A candidate's error: 409 for state conflicts, 422 for invalid drafts."""
    status = STATUS.get(type(exc), 409)
    problems = exc.problems if isinstance(exc, service.DraftInvalid) else []
    if _wants_json(request):
        return JSONResponse(
            {"detail": str(exc), "code": exc.code, "problems": problems}, status_code=status
        )
    closed = isinstance(exc, service.DeadlinePassed | service.AlreadySubmitted)
    # Raised when a review cannot start: there is no review to go back to, and /take would
    # only show this page again.
    unstarted = isinstance(exc, service.InviteClosed | service.AssessmentWithdrawn)
    return templates.TemplateResponse(
        request,
        "candidate/error.html",
        {
            "title": TITLES.get(type(exc), "Not saved"),
            "detail": str(exc),
            "problems": problems,
            "next_url": None if unstarted else "/take/receipt" if closed else "/take",
            "next_label": "See your receipt" if closed else "Back to your review",
        },
        status_code=status,
    )


def unavailable_response(request: Request, status: int, message: str, title: str) -> Response:
    """The one page for every link or session that cannot be used, whatever the reason."""
    if _wants_json(request):
        return JSONResponse(
            {"detail": message, "code": "unavailable", "problems": []}, status_code=status
        )
    return templates.TemplateResponse(
        request,
        "candidate/unavailable.html",
        {"title": title, "detail": message},
        status_code=status,
    )


def _where(loc: tuple[int | str, ...]) -> str:
    """("body", "comments", 2, "line") -> "comment 3: line"; ("body", "summary") -> "summary"."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    if len(parts) >= 2 and parts[0] == "comments" and isinstance(parts[1], int):
        rest = ".".join(str(p) for p in parts[2:])
        return f"comment {parts[1] + 1}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in parts) or "request body"


def validation_response(request: Request, exc: RequestValidationError) -> Response:
    """A malformed API request, each problem named by comment number and field."""
    problems = []
    for error in exc.errors():
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        problems.append(f"{_where(tuple(error.get('loc', ())))}: {message}")
    return JSONResponse(
        {
            "detail": "The request is malformed: " + "; ".join(problems),
            "code": "invalid_request",
            "problems": problems,
        },
        status_code=422,
    )
