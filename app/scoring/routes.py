"""The admin page of the grader's models: which one grades, past retrains, and a retrain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth import AdminUser, Csrf
from app.scoring import active
from app.scoring import retrain as retraining
from app.templating import templates
from grading import ModelError, ModelInfo, RetrainRunning

router = APIRouter(include_in_schema=False)


def _active_info() -> dict[str, Any]:
    """What the page says about the models that grade now (without training anything)."""
    registry = active.registry()
    try:
        version = registry.active_version()
    except ModelError as exc:
        return {"error": str(exc)}
    if version is None:
        loaded = active.loaded_version()
        shipped = loaded if loaded and loaded.startswith(active.SHIPPED_PREFIX) else None
        return {"version": None, "shipped": shipped}
    try:
        info: ModelInfo | None = registry.info(version)
    except ModelError as exc:
        return {"version": version, "error": str(exc)}
    return {"version": version, "info": info}


def _page(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    registry = active.registry()
    return templates.TemplateResponse(
        request,
        "models/page.html",
        {
            "current": _active_info(),
            "running": registry.running(),
            "history": registry.history(),
            "failed": retraining.last_error(registry.folder),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/staff/models", response_class=HTMLResponse)
def models_page(request: Request, user: AdminUser) -> Response:
    """The active model, its training, every past retrain with its report, and a retrain."""
    return _page(request)


@router.post("/staff/models/retrain")
def start_retrain(
    request: Request,
    user: AdminUser,
    _csrf: Csrf,
    force: Annotated[bool, Form()] = False,
) -> Response:
    """Start a retrain in the background; refused while one runs."""
    try:
        retraining.start_in_background(user, force=force)
    except RetrainRunning as exc:
        return _page(request, error=str(exc), status_code=409)
    except ModelError as exc:
        return _page(request, error=f"The retrain could not run: {exc}", status_code=422)
    return RedirectResponse("/staff/models", status_code=303)
