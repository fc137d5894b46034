"""Staff pages for invites: create a link for a candidate, see every invite's state, revoke."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.service import AssessmentNotFound
from app.auth import AdminUser, Csrf, require_role
from app.db import RowId, SessionDep, utcnow
from app.invites import bulk, erasure, service
from app.invites.models import Invite
from app.reviews import service as review_service
from app.settings import get_settings
from app.templating import templates
from app.users.models import Role, User

router = APIRouter(include_in_schema=False)

InviteStaff = Annotated[User, Depends(require_role(Role.grader, Role.author))]


def _page(
    request: Request,
    session: Session,
    *,
    created: service.NewInvite | None = None,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    bulk_created: list[tuple[bulk.Row, service.NewInvite]] | None = None,
    bulk_errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    rows = [
        (invite, submission, service.invite_state(invite, submission, now))
        for invite, submission in service.list_invites(session)
    ]
    # Blind grading: a submitted review's invite says who wrote it, so until its grade is final
    # the row shows neither the candidate nor anything to pair it with a queue entry.
    finals = review_service.final_submission_ids(
        session, [submission.id for _, submission, _ in rows if submission is not None]
    )
    blind = {
        invite.id
        for invite, submission, state in rows
        if submission is not None and state == "submitted" and submission.id not in finals
    }
    default_expiry = (now + timedelta(days=get_settings().invite_days)).date().isoformat()
    return templates.TemplateResponse(
        request,
        "candidate/staff_invites.html",
        {
            "assessments": assessment_service.list_assessments(session),
            "rows": rows,
            "blind": blind,
            "created": created,
            "errors": errors or [],
            "bulk_created": bulk_created,
            "bulk_download": _data_url(bulk.links_csv(bulk_created)) if bulk_created else None,
            "bulk_errors": bulk_errors or [],
            "form": form or {"expires": default_expiry},
            "today": now.date().isoformat(),
        },
        status_code=status_code,
    )


@router.get("/staff/invites", response_class=HTMLResponse)
def invites_page(request: Request, session: SessionDep, user: InviteStaff) -> Response:
    """Every invite with its state, and the form to create one."""
    return _page(request, session)


def _expiry(value: str) -> datetime | None:
    """The end of the given day (UTC), so an invite 'until 2026-12-01' works all that day."""
    day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _link_base(request: Request) -> str | None:
    """REDLINE_BASE_URL when set; otherwise the address this page was reached at."""
    if "base_url" in get_settings().model_fields_set:
        return None
    return str(request.base_url)


@router.post("/staff/invites")
def create_invite(
    request: Request,
    session: SessionDep,
    user: InviteStaff,
    _csrf: Csrf,
    assessment: Annotated[str, Form()] = "",
    candidate_name: Annotated[str, Form()] = "",
    candidate_email: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
) -> Response:
    """Create an invite and show its link, this once."""
    form = {
        "assessment": assessment,
        "candidate_name": candidate_name,
        "candidate_email": candidate_email,
        "expires": expires,
    }
    try:
        expires_at = _expiry(expires) if expires.strip() else None
    except ValueError:
        return _page(
            request,
            session,
            errors=[f"expiry: '{expires[:30]}' is not a date (YYYY-MM-DD)"],
            form=form,
            status_code=422,
        )
    try:
        created = service.create_invite(
            session,
            assessment=assessment,
            candidate_name=candidate_name,
            candidate_email=candidate_email,
            expires_at=expires_at,
            created_by=user,
            base_url=_link_base(request),
        )
    except AssessmentNotFound:
        return _page(
            request,
            session,
            errors=[f"assessment: no assessment called '{assessment[:100]}'"],
            form=form,
            status_code=422,
        )
    except service.InviteInvalid as exc:
        return _page(request, session, errors=exc.problems, form=form, status_code=422)
    session.commit()
    return _page(request, session, created=created, status_code=201)


def _data_url(text: str) -> str:
    # The links exist only in this response, so the download is offered from it, not from a
    # URL that would have to keep them.
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()


@router.post("/staff/invites/bulk")
def create_invites_from_csv(
    request: Request,
    session: SessionDep,
    user: InviteStaff,
    _csrf: Csrf,
    invites_csv: Annotated[UploadFile | None, File()] = None,
    assessment: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
) -> Response:
    """One invite per `name,email` row of an uploaded CSV, all or none; the links once."""
    form = {"assessment": assessment, "expires": expires}
    problems: list[str] = []
    try:
        expires_at = _expiry(expires) if expires.strip() else None
    except ValueError:
        expires_at = None
        problems.append(f"expiry: '{expires[:30]}' is not a date (YYYY-MM-DD)")
    if invites_csv is None or not invites_csv.filename:
        problems.append("file: choose a CSV file of name,email rows")
        data = b""
    else:
        data = invites_csv.file.read(bulk.MAX_BYTES + 1)
    if problems:
        return _page(request, session, bulk_errors=problems, form=form, status_code=422)
    try:
        rows = bulk.parse_rows(data)
        created = bulk.create_invites(
            session,
            assessment=assessment,
            rows=rows,
            expires_at=expires_at,
            created_by=user,
            base_url=_link_base(request),
        )
    except AssessmentNotFound:
        problems = [f"assessment: no assessment called '{assessment[:100]}'"]
    except service.InviteInvalid as exc:
        problems = exc.problems
    if problems:
        session.rollback()
        return _page(request, session, bulk_errors=problems, form=form, status_code=422)
    session.commit()
    return _page(request, session, bulk_created=created, status_code=201)


@router.get("/staff/invites/{invite_id}/erase", response_class=HTMLResponse)
def erase_page(
    request: Request, invite_id: RowId, session: SessionDep, user: AdminUser
) -> Response:
    """What erasing a candidate deletes, and the button that does it."""
    invite = session.get(Invite, invite_id)
    if invite is None:
        raise HTTPException(404, "No invite has that id; it may have been erased already.")
    return templates.TemplateResponse(
        request,
        "candidate/erase.html",
        {"invite": invite, "rows": erasure.rows_to_erase(session, invite_id)},
    )


@router.post("/staff/invites/{invite_id}/erase")
def erase_candidate(
    invite_id: RowId, session: SessionDep, user: AdminUser, _csrf: Csrf
) -> Response:
    """Delete everything about the candidate of an invite; keep a pseudonymous audit event."""
    try:
        erasure.erase_candidate(session, invite_id, actor=user)
    except erasure.CandidateNotFound:
        raise HTTPException(
            404, "No invite has that id; it may have been erased already."
        ) from None
    session.commit()
    return RedirectResponse("/staff/invites", status_code=303)


@router.post("/staff/invites/{invite_id}/revoke")
def revoke_invite(
    invite_id: RowId, session: SessionDep, user: InviteStaff, _csrf: Csrf
) -> Response:
    """Stop a link from working."""
    invite = session.get(Invite, invite_id)
    if invite is not None:
        service.revoke_invite(session, invite, actor=user)
        session.commit()
    return RedirectResponse("/staff/invites", status_code=303)
