"""The API's OpenAPI schema and its reference page, for signed-in staff only.

The schema lists every JSON route and its error shapes; it is no secret, but an anonymous
visitor has no use for it, so it is kept behind sign-in like the rest of the staff pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.auth import StaffUser
from app.templating import templates

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_schema(request: Request, user: StaffUser) -> dict[str, Any]:
    """The OpenAPI schema of the JSON API."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of `schema`, in path order, as the reference page lists it."""
    rows = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                rows.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        # The route's docstring says what it does; FastAPI's summary only
                        # restates the function's name.
                        "summary": op.get("description", "").split("\n")[0] or op.get("summary"),
                        "statuses": sorted(op.get("responses", {})),
                    }
                )
    return rows


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, user: StaffUser) -> Response:
    """The API reference, rendered here: a self-hosted service loads nothing from elsewhere."""
    schema: dict[str, Any] = request.app.openapi()
    return templates.TemplateResponse(
        request,
        "docs.html",
        {
            "title": schema["info"]["title"],
            "version": schema["info"]["version"],
            "openapi": schema["openapi"],
            "operations": operations(schema),
        },
    )
