"""Pages that belong to no single domain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth import CurrentUser, landing_for
from app.templating import templates

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, user: CurrentUser) -> HTMLResponse:
    """The front page: what Redline is, and the way in for staff and candidates."""
    landing = landing_for(user) if user is not None else None
    return templates.TemplateResponse(request, "home.html", {"landing": landing})
