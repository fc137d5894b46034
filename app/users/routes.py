"""Sign in, sign out, and the admin page of staff accounts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app import guard
from app.audit import service as audit
from app.auth import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    AdminUser,
    Csrf,
    CurrentUser,
    StaffUser,
    clear_cookie,
    landing_for,
    login_csrf,
    set_cookie,
)
from app.db import RowId, SessionDep
from app.limits import service as limits
from app.security import csrf_token_for, csrf_token_is_valid
from app.settings import get_settings
from app.templating import templates
from app.users import service
from app.users.models import Role, User

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """A path on this site to go on to, or "" for the signed-in user's landing page."""
    # Only paths on this site: an absolute or scheme-relative URL would turn the sign-in page
    # into an open redirect.
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return ""
    return target


def _login_form(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    csrf, fresh = login_csrf(request)
    response = templates.TemplateResponse(
        request,
        "users/login.html",
        {"next": next_path, "error": error, "email": email, "csrf_token": csrf},
        status_code=status_code,
    )
    if fresh:
        set_cookie(response, PRESESSION_COOKIE, fresh, max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, user: CurrentUser, next: str | None = None) -> Response:
    """The sign-in form; signed-in staff go straight on."""
    if user is not None:
        return RedirectResponse(_safe_next(next) or landing_for(user), status_code=303)
    return _login_form(request, next_path=_safe_next(next))


def client_address(request: Request) -> str:
    """The caller's address (the proxy's forwarded one when uvicorn trusts the proxy)."""
    return request.client.host if request.client else "unknown"


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    session: SessionDep,
    _csrf: Csrf,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the credentials and open a fresh session (the old one, if any, ends).

    The database work runs on pool threads; the password check, slow on purpose and run at
    low priority (`app.passwords`), is awaited with the request's admission slot given to
    others, so sign-ins waiting for spare CPU never hold back the pages and saves in flight.
    """
    address = client_address(request)
    counted = await run_in_threadpool(_count_attempt, request, session, address, email, next)
    if isinstance(counted, Response):
        return counted
    async with guard.stepped_aside():
        correct = await service.check_password_waiting(counted, password)
    if not correct:
        return await run_in_threadpool(_refused, request, session, counted, email, next)
    assert counted is not None
    return await run_in_threadpool(
        _signed_in, request, session, counted, address, email, password, next
    )


def _count_attempt(
    request: Request, session: Session, address: str, email: str, next: str
) -> User | Response | None:
    """Count the attempt; the account (or None), or the answer when a limit is reached."""
    try:
        # Counted and committed before the password is checked: parallel guesses cannot all
        # slip under the limit, and a guess that then ends in an error still counts.
        limits.hit(session, limits.SIGN_IN_ADDRESS, address)
        limits.hit(session, limits.SIGN_IN_PAIR, address, service.normalize_email(email))
    except limits.RateLimited as exc:
        session.commit()
        response = _login_form(
            request, next_path=_safe_next(next), email=email, status_code=429, error=str(exc)
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = service.find_user(session, email)
    # End the transaction before the deliberately slow password check, so it holds neither
    # SQLite's write lock nor a pooled connection meanwhile.
    session.commit()
    return user


def _refused(
    request: Request, session: Session, user: User | None, email: str, next: str
) -> Response:
    service.record_failed_sign_in(session, user)
    session.commit()
    return _login_form(
        request,
        next_path=_safe_next(next),
        email=email,
        status_code=401,
        error="That e-mail and password do not match an active account.",
    )


def _signed_in(
    request: Request,
    session: Session,
    user: User,
    address: str,
    email: str,
    password: str,
    next: str,
) -> Response:
    service.rehash_if_needed(user, password)
    limits.reset(session, limits.SIGN_IN_PAIR, address, service.normalize_email(email))
    limits.sweep(session)
    # A new token at every sign-in: a session fixed before login is never promoted.
    service.end_session(session, request.cookies.get(SESSION_COOKIE))
    token = service.start_session(session, user)
    session.commit()
    response = RedirectResponse(_safe_next(next) or landing_for(user), status_code=303)
    set_cookie(response, SESSION_COOKIE, token, max_age=get_settings().session_hours * 3600)
    clear_cookie(response, PRESESSION_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
    x_csrf_token: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """End the session on the server and in the browser."""
    token = request.cookies.get(SESSION_COOKIE)
    # Without a session there is nothing to end, so nothing for a forged request to abuse.
    if token:
        if not csrf_token_is_valid(token, x_csrf_token or csrf_token):
            raise HTTPException(403, "This form has expired. Reload the page and try again.")
        service.end_session(session, token)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


def _users_page(
    request: Request,
    session: SessionDep,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "users/list.html",
        {
            "users": service.list_users(session),
            "events": audit.list_recent(session, "user"),
            "roles": [r.value for r in Role],
            "error": error,
            "form": form or {"role": Role.grader.value},
            "activity": service.describe_activity(session, audit.list_recent(session, "user")),
        },
        status_code=status_code,
    )


@router.get("/staff/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    """Every staff account, and a form to add one."""
    return _users_page(request, session)


@router.post("/staff/users", include_in_schema=False)
def add_user(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    _csrf: Csrf,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Create an account; the admin hands the password over out of band."""
    try:
        service.create_user(
            session, email=email, name=name, role=role, password=password, actor=user
        )
    except service.UserError as exc:
        return _users_page(
            request,
            session,
            error=str(exc),
            status_code=422,
            form={"email": email, "name": name, "role": role},
        )
    session.commit()
    return RedirectResponse("/staff/users", status_code=303)


@router.post("/staff/users/{user_id}/active", include_in_schema=False)
def set_user_active(
    session: SessionDep,
    user: AdminUser,
    _csrf: Csrf,
    user_id: RowId,
    active: Annotated[bool, Form()],
) -> Response:
    """Enable or disable an account (never one's own, so an admin always remains)."""
    target = service.get_user(session, user_id)
    if target.id == user.id:
        raise HTTPException(409, "You cannot disable your own account.")
    service.set_active(session, target, active, actor=user)
    session.commit()
    return RedirectResponse("/staff/users", status_code=303)


@router.post("/staff/users/{user_id}/role", include_in_schema=False)
def set_user_role(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    _csrf: Csrf,
    user_id: RowId,
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    """Give an account another role (never one's own, so an admin always remains)."""
    target = service.get_user(session, user_id)
    if target.id == user.id:
        raise HTTPException(409, "You cannot change your own role.")
    try:
        service.set_role(session, target, role, actor=user)
    except service.UserError as exc:
        return _users_page(request, session, error=f"{target.email}: {exc}", status_code=422)
    session.commit()
    return RedirectResponse("/staff/users", status_code=303)


@router.post("/staff/users/{user_id}/password", include_in_schema=False)
def reset_user_password(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    _csrf: Csrf,
    user_id: RowId,
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Set a new password for an account; the admin hands it over out of band."""
    target = service.get_user(session, user_id)
    try:
        service.set_password(session, target, password, actor=user)
    except service.UserError as exc:
        return _users_page(request, session, error=f"{target.email}: {exc}", status_code=422)
    session.commit()
    return RedirectResponse("/staff/users", status_code=303)


def _account_page(
    request: Request, *, error: str | None = None, done: bool = False, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request, "users/account.html", {"error": error, "done": done}, status_code=status_code
    )


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(request: Request, user: StaffUser) -> Response:
    """One's own account: change the password."""
    return _account_page(request)


@router.post("/account/password", include_in_schema=False)
def change_own_password(
    request: Request,
    session: SessionDep,
    user: StaffUser,
    _csrf: Csrf,
    current: Annotated[str, Form(max_length=1000)],
    password: Annotated[str, Form(max_length=1000)],
    repeat: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Change one's own password; other sessions end, this browser stays signed in."""
    if password != repeat:
        return _account_page(request, error="the new passwords differ", status_code=422)
    try:
        if service.authenticate(session, user.email, current) is None:
            session.commit()  # the failed attempt counts towards the sign-in pause
            return _account_page(request, error="the current password is wrong", status_code=422)
        service.set_password(session, user, password, actor=user)
    except service.UserError as exc:
        return _account_page(request, error=str(exc), status_code=422)
    token = service.start_session(session, user)
    session.commit()
    request.state.csrf_token = csrf_token_for(token)  # the old session, and its token, ended
    response = _account_page(request, done=True)
    set_cookie(response, SESSION_COOKIE, token, max_age=get_settings().session_hours * 3600)
    return response
