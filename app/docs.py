"""The API's OpenAPI schema and its browsable page, for signed-in staff only.

The schema lists every JSON route and its error shapes; it is no secret, but an anonymous
visitor has no use for it, so it is kept behind sign-in like the rest of the staff pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.auth import StaffUser

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_schema(request: Request, user: StaffUser) -> dict[str, Any]:
    """The OpenAPI schema of the JSON API."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, user: StaffUser) -> HTMLResponse:
    """Swagger UI over the schema."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Redline API")
