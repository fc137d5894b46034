"""Liveness and readiness: is the database reachable, and is its schema current?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import get_engine
from app.migrate import current_revision, head_revision

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz() -> JSONResponse:
    """200 when the database answers and is migrated to head, else 503, with the details."""
    head = head_revision()
    body: dict[str, Any] = {"database": "ok", "migrations": {"current": None, "head": head}}
    try:
        engine = get_engine()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        body["database"] = f"unreachable: {type(exc).__name__}"
        body["status"] = "error"
        return JSONResponse(body, status_code=503)
    body["migrations"]["current"] = current
    body["migrations"]["up_to_date"] = current == head
    body["status"] = "ok" if current == head else "migrations pending"
    return JSONResponse(body, status_code=200 if current == head else 503)
