"""The FastAPI application: routers, templates, static files and error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import docs, health, logs, pages, reference, sweep, warm
from app.assessments.service import AssessmentNotFound
from app.auth import LoginRequired
from app.authoring import routes as authoring_routes
from app.errors import FORM_FIELD_BYTES, FORM_FIELD_LIMIT, error_response, wants_json
from app.guard import Guard
from app.headers import SecurityHeaders
from app.invites import routes as invite_routes
from app.invites import staff as invite_staff
from app.invites.service import InviteUnavailable
from app.limits.service import RateLimited
from app.reviews import routes as reviews_routes
from app.reviews.service import SubmissionNotFound
from app.scoring import routes as scoring_routes
from app.scoring.service import UnreadableScore
from app.settings import PROJECT_ROOT
from app.submissions import api as candidate_api
from app.submissions import errors as candidate_errors
from app.submissions import routes as candidate_routes
from app.submissions.deps import CandidateSessionMissing
from app.submissions.schemas import ErrorBody
from app.submissions.service import SubmissionError
from app.users import routes as users_routes
from app.users.service import UserNotFound

logger = logging.getLogger(__name__)

STATIC_DIR = PROJECT_ROOT / "app" / "static"

# Every JSON error, 422 included, has one documented shape.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Every problem, each naming the field it is in."},
    429: {"model": ErrorBody, "description": "A rate limit was reached; see Retry-After."},
    503: {"model": ErrorBody, "description": "Busy; nothing was lost. See Retry-After."},
}


def _validation_problems(exc: RequestValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        problems.append(f"{'.'.join(loc) or 'request'}: {message}")
    return problems


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    warm.prepare(app)
    async with sweep.lifespan(app):
        yield


def create_app() -> FastAPI:
    """Build the application."""
    app = FastAPI(
        title="Redline",
        version="0.1.0",
        description="Asynchronous code-review assessments for hiring, graded and "
        "signed off by humans.",
        responses=API_ERRORS,
        # Served by `app.docs` to signed-in staff only.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    app.add_middleware(Guard)
    # Added last, so it is outermost: the guard's refusals get the headers too.
    app.add_middleware(SecurityHeaders)
    logs.install()
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(reference.router)
    app.include_router(pages.router)
    app.include_router(invite_routes.router)
    app.include_router(invite_staff.router)
    app.include_router(candidate_routes.router)
    app.include_router(candidate_api.router)
    app.include_router(users_routes.router)
    app.include_router(reviews_routes.router)
    app.include_router(authoring_routes.router)
    app.include_router(scoring_routes.router)

    @app.exception_handler(AssessmentNotFound)
    def _assessment_not_found(request: Request, exc: AssessmentNotFound) -> Response:
        return error_response(request, 404, "Not found", f"No assessment called {exc}.")

    @app.exception_handler(RateLimited)
    def _rate_limited(request: Request, exc: RateLimited) -> Response:
        response = error_response(request, 429, "Too many requests", str(exc), code="rate_limited")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(LoginRequired)
    def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and not wants_json(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return error_response(request, 401, "Sign in required", "Sign in to continue.")

    @app.exception_handler(SubmissionNotFound)
    def _submission_not_found(request: Request, exc: SubmissionNotFound) -> Response:
        return error_response(request, 404, "Not found", "No submitted submission has that id.")

    @app.exception_handler(UserNotFound)
    def _user_not_found(request: Request, exc: UserNotFound) -> Response:
        return error_response(request, 404, "Not found", "No such account.")

    @app.exception_handler(InviteUnavailable)
    def _invite_unavailable(request: Request, exc: InviteUnavailable) -> Response:
        return candidate_errors.unavailable_response(
            request,
            404,
            "This invite link cannot be used. It may be mistyped, expired, or "
            "already used to submit a review.",
            "This link cannot be used",
        )

    @app.exception_handler(CandidateSessionMissing)
    def _candidate_session_missing(request: Request, exc: CandidateSessionMissing) -> Response:
        return candidate_errors.unavailable_response(request, 401, str(exc), "Session ended")

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/candidate"):
            return candidate_errors.validation_response(request, exc)
        problems = _validation_problems(exc)
        return error_response(
            request,
            422,
            "Invalid input",
            "The request is malformed: " + "; ".join(problems),
            code="invalid_request",
            problems=problems,
        )

    @app.exception_handler(SubmissionError)
    def _submission_error(request: Request, exc: SubmissionError) -> Response:
        return candidate_errors.submission_error_response(request, exc)

    @app.exception_handler(UnreadableScore)
    def _unreadable_score(request: Request, exc: UnreadableScore) -> Response:
        # A row another release wrote, or one changed by hand: say which, and the way out.
        logger.error("a stored auto-score cannot be read: %s", exc)
        number = exc.submission_id
        return error_response(
            request,
            500,
            "A stored score cannot be read",
            f"The auto-score of submission {number} does not read back as a grade ({exc}); "
            "it was stored by another release or changed by hand. An admin can grade it "
            f"again with `redline submissions grade {exc.public_id}`, which stores a new "
            "score in its place, and this page will load.",
        )

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            400: "Bad request",
            401: "Sign in required",
            403: "Not allowed",
            404: "Not found",
            405: "Not allowed",
            409: "Conflict",
            410: "Gone",
            413: "Too large",
            422: "Invalid input",
        }
        detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
        status_code = exc.status_code
        if status_code == 400 and detail.startswith(
            ("Part exceeded maximum size", "Field exceeded maximum size")
        ):
            # The form parser's own words name neither the limit's unit nor a way out.
            status_code = 413
            detail = (
                f"A text box held more than {FORM_FIELD_LIMIT} ({FORM_FIELD_BYTES:,} bytes), "
                "more than one form field takes, so nothing was sent on. Go back to keep your "
                "text, and upload it as a file instead: Try the grader takes a .jsonl file, an "
                "assessment its files."
            )
        response = error_response(request, status_code, titles.get(status_code, "Error"), detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> Response:
        return error_response(
            request,
            500,
            "Something went wrong",
            "The server hit an unexpected error; nothing you saved was lost.",
        )

    return app


app = create_app()
