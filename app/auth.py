"""Who is asking: the signed-in staff member, role checks and CSRF protection.

Every staff route declares `require_role(...)`; admins pass every role check. State-changing
routes also declare a `Csrf` parameter after the user, so that anonymous requests are sent to
sign in first; it accepts the token from the `X-CSRF-Token` header (scripts) or the
`csrf_token` form field (plain forms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response

from app.db import SessionDep
from app.security import csrf_token_for, csrf_token_is_valid, new_token
from app.settings import get_settings
from app.users import service as users_service
from app.users.models import Role, User

SESSION_COOKIE = "redline_session"
# Before sign-in there is no session to bind the login form's CSRF token to, so the browser
# gets a random pre-session token for that purpose.
PRESESSION_COOKIE = "redline_presession"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

ALL_STAFF = (Role.admin, Role.author, Role.grader)


# Each role lands where its work is; nobody lands on a page their role cannot see.
LANDING = {
    Role.admin: "/staff/queue",
    Role.grader: "/staff/queue",
    Role.author: "/staff/assessments",
}


def landing_for(user: User) -> str:
    """The page a staff member starts from after signing in."""
    return LANDING[user.role]


class LoginRequired(Exception):
    """The request needs a signed-in staff member and has none."""


def current_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in staff member, or None; also exposes the user and CSRF token to templates."""
    if hasattr(request.state, "user"):
        user: User | None = request.state.user
        return user
    token = request.cookies.get(SESSION_COOKIE)
    user = users_service.user_for_token(session, token)
    request.state.user = user
    request.state.csrf_token = csrf_token_for(token) if user and token else None
    return user


CurrentUser = Annotated[User | None, Depends(current_user)]


def require_role(*roles: Role) -> Callable[..., User]:
    """A dependency that returns the signed-in user if their role is one of `roles` (or admin)."""
    allowed = frozenset(roles) | {Role.admin}

    def dependency(user: CurrentUser) -> User:
        if user is None:
            raise LoginRequired()
        if user.role not in allowed:
            raise HTTPException(403, "Your role does not allow this.")
        return user

    return dependency


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not carry this browser's CSRF token."""
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    # Either cookie may have issued the form: the sign-in form is bound to the pre-session
    # cookie, and a browser may still carry a dead session cookie from an earlier sign-in,
    # which must not block signing in again.
    seeds = (request.cookies.get(SESSION_COOKIE), request.cookies.get(PRESESSION_COOKIE))
    if not any(csrf_token_is_valid(seed, submitted) for seed in seeds):
        raise HTTPException(
            403,
            "This form has expired or did not come from this page. Reload the page and try again.",
        )


Csrf = Annotated[None, Depends(verify_csrf)]

StaffUser = Annotated[User, Depends(require_role(*ALL_STAFF))]
GraderUser = Annotated[User, Depends(require_role(Role.grader))]
AuthorUser = Annotated[User, Depends(require_role(Role.author))]
AdminUser = Annotated[User, Depends(require_role(Role.admin))]


def login_csrf(request: Request) -> tuple[str, str | None]:
    """The CSRF token for the sign-in form, and a new pre-session cookie value if one is needed."""
    token = request.cookies.get(PRESESSION_COOKIE)
    fresh = None
    if not token:
        token = fresh = new_token()
    return csrf_token_for(token), fresh


def set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    """Set a cookie the way every Redline cookie is set: HttpOnly, SameSite, Secure on https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        path="/",
    )


def clear_cookie(response: Response, name: str) -> None:
    """Remove a cookie set by `set_cookie`."""
    response.delete_cookie(
        name, httponly=True, samesite="lax", secure=get_settings().secure_cookies, path="/"
    )
