"""Pages that belong to no single domain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.auth import CurrentUser, landing_for
from app.settings import PROJECT_ROOT
from app.templating import templates

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, user: CurrentUser) -> HTMLResponse:
    """The front page: what Redline is, and the way in for staff and candidates."""
    landing = landing_for(user) if user is not None else None
    return templates.TemplateResponse(request, "home.html", {"landing": landing})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The icon, for clients that ask at the conventional address instead of reading the page."""
    return FileResponse(
        PROJECT_ROOT / "app" / "static" / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
