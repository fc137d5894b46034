"""The grading queue, the review page, grading decisions (forms and JSON) and export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.auth import AdminUser, Csrf, GraderUser, require_role
from app.db import MAX_INT, RowId, SessionDep
from app.reviews import decisions, export, groups, queue, service
from app.reviews import page as page_view
from app.reviews.schemas import DecisionIn
from app.reviews.service import DecisionConflict, InvalidDecision
from app.templating import templates
from app.users.models import Role, User

# Denied by default: every route here needs a grader (or admin), even one added without its
# own role check; routes may ask for more.
router = APIRouter(dependencies=[Depends(require_role(Role.grader))])

PARTIAL_HEADER = "x-partial"


@router.get("/staff/queue", response_class=HTMLResponse, include_in_schema=False)
def queue_page(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    assessment: str | None = None,
    status: str = "todo",
) -> Response:
    """Submissions to grade, what needs a human most first."""
    if status not in queue.QUEUE_STATUSES:
        status = "todo"
    rows = queue.list_queue(session, assessment=assessment or None, status=status)
    return templates.TemplateResponse(
        request,
        "reviews/queue.html",
        {
            "rows": rows,
            "assessments": assessment_service.list_assessments(session, active_only=False),
            "assessment": assessment or "",
            "status": status,
            "statuses": queue.QUEUE_STATUSES,
            "decision_boundaries": " and ".join(f"{b:g}" for b in queue.DECISION_BOUNDARIES),
        },
    )


def _render(
    request: Request,
    session: Session,
    submission_id: int,
    *,
    status_code: int = 200,
    conflict: str | None = None,
    error: str | None = None,
    revealed: str | None = None,
) -> Response:
    page = page_view.build_review_page(session, submission_id)
    partial = request.headers.get(PARTIAL_HEADER) == "1"
    return templates.TemplateResponse(
        request,
        "reviews/_partial.html" if partial else "reviews/detail.html",
        {"page": page, "conflict": conflict, "error": error, "revealed": revealed},
        status_code=status_code,
    )


@router.get(
    "/staff/submissions/{submission_id}", response_class=HTMLResponse, include_in_schema=False
)
def review_page(
    request: Request, session: SessionDep, user: GraderUser, submission_id: RowId
) -> Response:
    """One submission: snippet and comments, answer key, matches, flags, dimensions, audit."""
    return _render(request, session, submission_id)


def _end_read_transaction(session: Session) -> None:
    # Only reads happened so far (the sign-in check). Ending that transaction lets the save
    # start a fresh one that waits its turn for SQLite's write lock (see the service).
    session.commit()


def _apply_form(
    request: Request, session: Session, submission_id: int, action: Callable[[], object]
) -> Response:
    _end_read_transaction(session)
    try:
        action()
    except DecisionConflict as exc:
        if exc.lost_race:
            session.rollback()
            decisions.await_other_writers(session)
        return _render(request, session, submission_id, status_code=409, conflict=str(exc))
    except InvalidDecision as exc:
        return _render(request, session, submission_id, status_code=422, error=str(exc))
    session.commit()
    if request.headers.get(PARTIAL_HEADER) == "1":
        return _render(request, session, submission_id)
    return RedirectResponse(f"/staff/submissions/{submission_id}", status_code=303)


IntForm = Annotated[int, Form(ge=-MAX_INT, le=MAX_INT)]
ShortForm = Annotated[str, Form(max_length=100)]


@router.post("/staff/submissions/{submission_id}/matches", include_in_schema=False)
def post_match(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    _csrf: Csrf,
    submission_id: RowId,
    version: IntForm,
    bug: ShortForm,
    comment: IntForm,
    verdict: ShortForm,
) -> Response:
    """Confirm, reject, add or clear a match."""
    return _apply_form(
        request,
        session,
        submission_id,
        lambda: decisions.decide_match(
            session, submission_id, user, version=version, bug=bug, comment=comment, verdict=verdict
        ),
    )


@router.post("/staff/submissions/{submission_id}/flags", include_in_schema=False)
def post_flag(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    _csrf: Csrf,
    submission_id: RowId,
    version: IntForm,
    kind: ShortForm,
    comment: IntForm,
    verdict: ShortForm,
) -> Response:
    """Confirm, dismiss or clear a red flag."""
    return _apply_form(
        request,
        session,
        submission_id,
        lambda: decisions.decide_flag(
            session,
            submission_id,
            user,
            version=version,
            kind=kind,
            comment=comment,
            verdict=verdict,
        ),
    )


@router.post("/staff/submissions/{submission_id}/overrides", include_in_schema=False)
def post_override(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    _csrf: Csrf,
    submission_id: RowId,
    version: IntForm,
    dimension: ShortForm,
    value: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Set a dimension by hand with a reason; an empty value removes the override."""

    def action() -> object:
        try:
            number = float(value) if value.strip() else None
        except ValueError:
            raise InvalidDecision("the score must be a number from 0 to 100") from None
        return decisions.override_dimension(
            session,
            submission_id,
            user,
            version=version,
            dimension=dimension,
            value=number,
            reason=reason,
        )

    return _apply_form(request, session, submission_id, action)


@router.post("/staff/submissions/{submission_id}/finalize", include_in_schema=False)
def post_finalize(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    _csrf: Csrf,
    submission_id: RowId,
    version: IntForm,
) -> Response:
    """Sign the grade."""
    return _apply_form(
        request,
        session,
        submission_id,
        lambda: decisions.finalize(session, submission_id, user, version=version),
    )


@router.post("/staff/submissions/{submission_id}/reopen", include_in_schema=False)
def post_reopen(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    _csrf: Csrf,
    submission_id: RowId,
    version: IntForm,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Reopen a final grade, with a reason (admins only)."""
    return _apply_form(
        request,
        session,
        submission_id,
        lambda: decisions.reopen(session, submission_id, user, version=version, reason=reason),
    )


@router.post("/staff/submissions/{submission_id}/reveal", include_in_schema=False)
def post_reveal(
    request: Request, session: SessionDep, user: AdminUser, _csrf: Csrf, submission_id: int
) -> Response:
    """Show an admin who the candidate is before the grade is final; the audit trail keeps it."""
    name = service.reveal_candidate(session, submission_id, user)
    session.commit()
    return _render(request, session, submission_id, revealed=name)


# -- grading by bug ---------------------------------------------------------------------------


@router.get("/staff/bugs", response_class=HTMLResponse, include_in_schema=False)
def groups_page(request: Request, session: SessionDep, user: GraderUser) -> Response:
    """Every seeded bug with the answers tied to it, most still to decide first."""
    return templates.TemplateResponse(
        request, "reviews/groups.html", {"groups": groups.list_groups(session)}
    )


def _group_page(
    request: Request,
    session: Session,
    slug: str,
    bug: str,
    *,
    status_code: int = 200,
    conflict: str | None = None,
    error: str | None = None,
) -> Response:
    try:
        group = groups.get_group(session, slug, bug)
    except groups.GroupNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return templates.TemplateResponse(
        request,
        "reviews/group.html",
        {"group": group, "conflict": conflict, "error": error},
        status_code=status_code,
    )


@router.get("/staff/bugs/{slug}/{bug}", response_class=HTMLResponse, include_in_schema=False)
def group_page(
    request: Request, session: SessionDep, user: GraderUser, slug: str, bug: str
) -> Response:
    """One seeded bug: every submission's matching or near-missing comment, to decide in place."""
    return _group_page(request, session, slug, bug)


@router.post("/staff/bugs/{slug}/{bug}", include_in_schema=False)
def post_group_decision(
    request: Request,
    session: SessionDep,
    user: GraderUser,
    _csrf: Csrf,
    slug: str,
    bug: str,
    submission: IntForm,
    version: IntForm,
    comment: IntForm,
    verdict: ShortForm,
) -> Response:
    """Confirm, reject or add one submission's answer to the bug, from the bug's page."""
    _end_read_transaction(session)
    try:
        decisions.decide_match(
            session, submission, user, version=version, bug=bug, comment=comment, verdict=verdict
        )
    except DecisionConflict as exc:
        if exc.lost_race:
            session.rollback()
            decisions.await_other_writers(session)
        return _group_page(request, session, slug, bug, status_code=409, conflict=str(exc))
    except InvalidDecision as exc:
        return _group_page(request, session, slug, bug, status_code=422, error=str(exc))
    session.commit()
    if request.headers.get(PARTIAL_HEADER) == "1":
        return _group_page(request, session, slug, bug)
    return RedirectResponse(
        f"/staff/bugs/{slug}/{bug}#answer-{submission}-{comment}", status_code=303
    )


# -- JSON API ----------------------------------------------------------------------------------


@router.get("/api/staff/submissions/{submission_id}", tags=["grading"])
def api_state(session: SessionDep, user: GraderUser, submission_id: RowId) -> dict[str, Any]:
    """The saved decisions and the grade as it stands."""
    return service.current_state(session, submission_id)


def _decide(session: Session, user: User, submission_id: int, body: DecisionIn) -> object:
    def need(value: Any, name: str) -> Any:
        if value is None:
            raise InvalidDecision(f"{name} is required for a {body.action} decision")
        return value

    if body.action == "match":
        return decisions.decide_match(
            session,
            submission_id,
            user,
            version=body.version,
            bug=need(body.bug, "bug"),
            comment=need(body.comment, "comment"),
            verdict=need(body.verdict, "verdict"),
        )
    if body.action == "flag":
        return decisions.decide_flag(
            session,
            submission_id,
            user,
            version=body.version,
            kind=need(body.kind, "kind"),
            comment=need(body.comment, "comment"),
            verdict=need(body.verdict, "verdict"),
        )
    if body.action == "override":
        return decisions.override_dimension(
            session,
            submission_id,
            user,
            version=body.version,
            dimension=need(body.dimension, "dimension"),
            value=body.value,
            reason=body.reason,
        )
    return decisions.finalize(session, submission_id, user, version=body.version)


@router.post("/api/staff/submissions/{submission_id}/decisions", tags=["grading"])
def api_decide(
    session: SessionDep, user: GraderUser, _csrf: Csrf, submission_id: RowId, body: DecisionIn
) -> JSONResponse:
    """Apply one decision; 409 with the current state when `version` is stale."""
    _end_read_transaction(session)
    try:
        _decide(session, user, submission_id, body)
    except DecisionConflict as exc:
        if exc.lost_race:
            session.rollback()
            decisions.await_other_writers(session)
        return JSONResponse(
            {"detail": str(exc), "current": service.current_state(session, submission_id)},
            status_code=409,
        )
    except InvalidDecision as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    session.commit()
    return JSONResponse(service.current_state(session, submission_id))


# -- export ------------------------------------------------------------------------------------


@router.get("/staff/export", response_class=HTMLResponse, include_in_schema=False)
def export_page(request: Request, session: SessionDep, user: GraderUser) -> Response:
    """Links to the CSV and JSON exports, per assessment or all."""
    return templates.TemplateResponse(
        request,
        "reviews/export.html",
        {"assessments": assessment_service.list_assessments(session, active_only=False)},
    )


@router.get("/staff/export.json", tags=["grading"])
def export_json(session: SessionDep, user: GraderUser, assessment: str | None = None) -> Response:
    """Auto and final scores of every submission, as JSON."""
    records = export.export_records(session, assessment=assessment or None)
    return Response(
        export.to_json(records),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="redline-scores.json"'},
    )


@router.get("/staff/export.csv", tags=["grading"])
def export_csv(session: SessionDep, user: GraderUser, assessment: str | None = None) -> Response:
    """One row per submission: dimensions auto and final, and each seeded bug found or not."""
    records = export.export_records(session, assessment=assessment or None)
    return Response(
        export.to_tidy_csv(records),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="redline-scores.csv"'},
    )


@router.get("/staff/export-decisions.csv", tags=["grading"])
def export_decisions_csv(
    session: SessionDep, user: GraderUser, assessment: str | None = None
) -> Response:
    """One row per decision on a match, red flag, dimension or the grade."""
    records = export.export_records(session, assessment=assessment or None)
    return Response(
        export.to_decisions_csv(records),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="redline-decisions.csv"'},
    )
