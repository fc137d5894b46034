"""The candidate's pages: start, review, confirm, receipt. Plain forms; the script enhances."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db import SessionDep, utcnow
from app.scoring import service as scoring_service
from app.settings import get_settings
from app.submissions import service, views
from app.submissions.deps import (
    Candidate,
    CandidateDep,
    CandidateRoute,
    check_csrf,
    commit_with_retry,
)
from app.submissions.models import Submission, SubmissionStatus
from app.templating import templates

router = APIRouter(route_class=CandidateRoute, include_in_schema=False)

FormStr = Annotated[str, Form()]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def clock(seconds: int) -> str:
    """Seconds as H:MM:SS or M:SS."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def anchor_label(c: Any) -> str:
    """Where a comment points, as people read it: client.py:44–46, or General."""
    if not c.file:
        return "General"
    if c.line is None:
        return c.file
    if c.end_line and c.end_line != c.line:
        return f"{c.file}:{c.line}–{c.end_line}"
    return f"{c.file}:{c.line}"


# Named so they cannot collide with filters other pages register on the shared environment.
templates.env.filters["countdown"] = clock
templates.env.filters["comment_anchor"] = anchor_label


def _review_page(
    request: Request,
    candidate: Candidate,
    submission: Submission,
    *,
    compose: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    editing: dict[str, Any] | None = None,
    summary: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    version = submission.version
    now = utcnow()
    threads: dict[tuple[str, int], list[tuple[int, Any]]] = defaultdict(list)
    for number, c in enumerate(submission.comments, start=1):
        if c.file and c.line:
            threads[(c.file, c.end_line or c.line)].append((number, c))
    state = views.candidate_state(candidate.invite, submission, candidate.csrf_token, now)
    return templates.TemplateResponse(
        request,
        "candidate/review.html",
        {
            "version": version,
            "submission": submission,
            "files": views.code_files(version),
            "threads": threads,
            "comments": submission.comments,
            "csrf_token": candidate.csrf_token,
            "severities": service.SEVERITIES,
            "compose": compose or {},
            "errors": errors or [],
            "editing": editing or {},
            "summary": submission.summary if summary is None else summary,
            "seconds_left": service.seconds_left(submission, now),
            # The script needs neither the brief nor the files, which the page already shows.
            "state": state.model_dump(mode="json", exclude={"assessment": {"files", "brief"}}),
            "limits": get_settings(),
        },
        status_code=status_code,
    )


@router.get("/take", response_class=HTMLResponse)
def take(
    request: Request, candidate: CandidateDep, file: str = "", line: str = "", end_line: str = ""
) -> Response:
    """The candidate's page for where they are: before the start, reviewing, or done."""
    submission = candidate.submission
    if submission is None:
        version = views.version_for(candidate.invite, None)
        return templates.TemplateResponse(
            request,
            "candidate/start.html",
            {
                "version": version,
                "judged_on": views.judged_on(version),
                "csrf_token": candidate.csrf_token,
                "invite": candidate.invite,
            },
        )
    if submission.status != SubmissionStatus.in_progress:
        return _redirect("/take/receipt")
    scoring_service.warm_up()
    return _review_page(
        request, candidate, submission, compose={"file": file, "line": line, "end_line": end_line}
    )


@router.post("/take/start")
def start(candidate: CandidateDep, session: SessionDep, csrf_token: FormStr = "") -> Response:
    """Start the clock."""
    check_csrf(candidate, csrf_token)
    service.start_submission(session, candidate.invite)
    session.commit()
    scoring_service.warm_up()
    return _redirect("/take")


def _int(value: str, name: str, number: int, problems: list[str]) -> int | None:
    value = value.strip()
    if not value:
        return None
    # isdigit() alone lets through '²' and other digits int() refuses.
    if value.isascii() and value.isdigit() and len(value) < 9:
        return int(value)
    problems.append(f"comment {number}: {name} '{value[:20]}' is not a line number")
    return None


def _form_comment(
    number: int, file: str, line: str, end_line: str, severity: str, body: str
) -> tuple[service.DraftComment, list[str]]:
    problems: list[str] = []
    start_line = _int(line, "line", number, problems)
    last_line = _int(end_line, "end line", number, problems)
    comment = service.DraftComment(
        body=body, file=file or None, line=start_line, end_line=last_line, severity=severity or None
    )
    return comment, problems


def _open_submission(candidate: Candidate) -> Submission:
    if candidate.submission is None:
        raise service.NotStarted()
    return candidate.submission


@router.post("/take/comments")
def add_comment(
    request: Request,
    candidate: CandidateDep,
    session: SessionDep,
    csrf_token: FormStr = "",
    file: FormStr = "",
    line: FormStr = "",
    end_line: FormStr = "",
    severity: FormStr = "",
    body: FormStr = "",
) -> Response:
    """Add a comment (the form below the code)."""
    check_csrf(candidate, csrf_token)
    submission = _open_submission(candidate)
    number = len(submission.comments) + 1
    comment, problems = _form_comment(number, file, line, end_line, severity, body)
    try:
        if problems:
            raise service.DraftInvalid(problems)
        added = service.add_comment(session, submission, comment)
    except service.DraftInvalid as exc:
        session.rollback()
        compose = {
            "file": file,
            "line": line,
            "end_line": end_line,
            "severity": severity,
            "body": body,
        }
        return _review_page(
            request, candidate, submission, compose=compose, errors=exc.problems, status_code=422
        )
    session.commit()
    return _redirect(f"/take#c-{added.client_id}")


@router.post("/take/comments/{client_id}")
def edit_comment(
    client_id: str,
    request: Request,
    candidate: CandidateDep,
    session: SessionDep,
    csrf_token: FormStr = "",
    file: FormStr = "",
    line: FormStr = "",
    end_line: FormStr = "",
    severity: FormStr = "",
    body: FormStr = "",
) -> Response:
    """Change one comment."""
    check_csrf(candidate, csrf_token)
    submission = _open_submission(candidate)
    ids = [c.client_id for c in submission.comments]
    number = ids.index(client_id) + 1 if client_id in ids else len(ids) + 1
    comment, problems = _form_comment(number, file, line, end_line, severity, body)
    try:
        if problems:
            raise service.DraftInvalid(problems)
        service.update_comment(session, submission, client_id, comment)
    except service.DraftInvalid as exc:
        session.rollback()
        editing = {
            "client_id": client_id,
            "file": file,
            "line": line,
            "end_line": end_line,
            "severity": severity,
            "body": body,
        }
        return _review_page(
            request, candidate, submission, editing=editing, errors=exc.problems, status_code=422
        )
    session.commit()
    return _redirect(f"/take#c-{client_id}")


@router.post("/take/comments/{client_id}/delete")
def delete_comment(
    client_id: str, candidate: CandidateDep, session: SessionDep, csrf_token: FormStr = ""
) -> Response:
    """Delete one comment."""
    check_csrf(candidate, csrf_token)
    service.delete_comment(session, _open_submission(candidate), client_id)
    session.commit()
    return _redirect("/take#comments")


@router.post("/take/comments/{client_id}/move")
def move_comment(
    client_id: str,
    candidate: CandidateDep,
    session: SessionDep,
    csrf_token: FormStr = "",
    direction: FormStr = "",
) -> Response:
    """Move one comment up or down the order of urgency."""
    check_csrf(candidate, csrf_token)
    offset = {"up": -1, "down": 1, "top": -(10**6), "bottom": 10**6}.get(direction, 0)
    service.move_comment(session, _open_submission(candidate), client_id, offset)
    session.commit()
    return _redirect(f"/take#c-{client_id}")


@router.post("/take/summary")
def save_summary(
    request: Request,
    candidate: CandidateDep,
    session: SessionDep,
    csrf_token: FormStr = "",
    summary: FormStr = "",
) -> Response:
    """Save the summary."""
    check_csrf(candidate, csrf_token)
    submission = _open_submission(candidate)
    try:
        service.save_summary(session, submission, summary)
    except service.DraftInvalid as exc:
        session.rollback()
        return _review_page(
            request, candidate, submission, errors=exc.problems, summary=summary, status_code=422
        )
    session.commit()
    return _redirect("/take#summary")


@router.get("/take/submit", response_class=HTMLResponse)
def confirm_submit(request: Request, candidate: CandidateDep) -> Response:
    """What will be sent, with a button to send it."""
    submission = _open_submission(candidate)
    if submission.status != SubmissionStatus.in_progress:
        return _redirect("/take/receipt")
    return templates.TemplateResponse(
        request,
        "candidate/confirm.html",
        {
            "submission": submission,
            "version": submission.version,
            "comments": submission.comments,
            "csrf_token": candidate.csrf_token,
            "without_severity": sum(1 for c in submission.comments if not c.severity),
            "seconds_left": service.seconds_left(submission),
        },
    )


@router.post("/take/submit")
def submit(candidate: CandidateDep, session: SessionDep, csrf_token: FormStr = "") -> Response:
    """Submit the review; a second submit is harmless."""
    check_csrf(candidate, csrf_token)
    submission = _open_submission(candidate)
    commit_with_retry(session, lambda: service.submit(session, submission))
    scoring_service.commit_and_score(session, later=True)
    return _redirect("/take/receipt")


@router.get("/take/receipt", response_class=HTMLResponse)
def receipt(request: Request, candidate: CandidateDep) -> Response:
    """Proof of what was submitted, and when."""
    submission = _open_submission(candidate)
    if submission.status == SubmissionStatus.in_progress:
        return _redirect("/take")
    return templates.TemplateResponse(
        request,
        "candidate/receipt.html",
        {
            "receipt": service.receipt_for(submission),
            "version": submission.version,
        },
    )
