"""How an error looks: JSON for the API and scripts, a page for people, never a stack trace."""

from __future__ import annotations

import logging
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.formparsers import MultiPartParser

from app.templating import templates

logger = logging.getLogger(__name__)

# The most one form field (a text box) may hold: the form parser's own limit, named where the
# pages that take pasted text and the error that refuses too much can both say it.
FORM_FIELD_BYTES = MultiPartParser.max_part_size
FORM_FIELD_LIMIT = f"{FORM_FIELD_BYTES / 2**20:g} MB"


def wants_json(request: Request) -> bool:
    """Whether the caller is a program (the API, or a script asking for JSON)."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_body(detail: str, *, code: str | None = None, problems: list[str] | None = None) -> dict:
    """The documented error schema (`ErrorBody`): what is wrong, a code, and every problem."""
    return {"detail": detail, "code": code, "problems": problems or []}


def plain_error_page(status_code: int, title: str, detail: str) -> HTMLResponse:
    """A page built without templates or the database, for when those are what failed."""
    body = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f" · Redline</title></head><body><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
        "<p><a href='/'>Back to the start page</a></p></body></html>"
    )
    return HTMLResponse(body, status_code=status_code)


def _sign_in_state(request: Request) -> None:
    """Who is signed in, for the navigation of an error page raised before any route ran."""
    if hasattr(request.state, "user"):
        return
    from app.auth import SESSION_COOKIE
    from app.db import get_sessionmaker, write_intent
    from app.security import csrf_token_for
    from app.users import service as users_service

    request.state.user, request.state.csrf_token = None, None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    # Only a read: it must not queue for SQLite's write lock, which the failed request's own
    # session may still hold.
    write_intent.set(False)
    with get_sessionmaker()() as session:
        user = users_service.user_for_token(session, token)
        if user is not None:
            session.expunge(user)  # read after the session closes: name and role only
            request.state.user, request.state.csrf_token = user, csrf_token_for(token)


def error_response(
    request: Request,
    status_code: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    problems: list[str] | None = None,
) -> Response:
    """An error as JSON for the API and as a page for people; never a stack trace."""
    if wants_json(request):
        return JSONResponse(error_body(detail, code=code, problems=problems), status_code)
    try:
        _sign_in_state(request)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"title": title, "detail": detail, "problems": problems or []},
            status_code=status_code,
        )
    except Exception:
        # The page names the signed-in user, read from the database; when the database is
        # what failed (an aborted transaction), the error must still be shown.
        logger.exception("rendering the error page failed; sending a plain one")
        return plain_error_page(status_code, title, detail)
