"""Who may call what: every route of the app against an explicit table of intended access.

The table must name every route. A route added without an entry fails
`test_every_route_is_in_the_access_table`, so nobody ships a page by accident without
deciding who may use it. Add new routes to EXPECTED_ACCESS below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session
from starlette.routing import Mount, Route

from app.auth import PRESESSION_COOKIE, SESSION_COOKIE
from app.db import utcnow
from app.scoring import retrain as retraining
from app.security import csrf_token_for, new_token, token_hash
from app.submissions.deps import COOKIE_NAME as CANDIDATE_COOKIE
from app.users import service as users_service
from app.users.models import Role
from tests.web.factories import DEFAULT_ASSESSMENT, make_auto_score, make_submission, make_user

ROLES = ("anonymous", "candidate", "grader", "author", "admin")

PUBLIC = frozenset(ROLES)
CANDIDATE = frozenset({"candidate"})
STAFF = frozenset({"grader", "author", "admin"})
GRADERS = frozenset({"grader", "admin"})
AUTHORS = frozenset({"author", "admin"})
ADMINS = frozenset({"admin"})

EXPECTED_ACCESS: dict[tuple[str, str], frozenset[str]] = {
    # The service's own pages and documents.
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/openapi.json"): STAFF,
    ("GET", "/docs"): STAFF,
    ("GET", "/staff/reference/{name}"): STAFF,
    ("MOUNT", "/static"): PUBLIC,
    # Signing in and out.
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    # Candidates: an invite link opens a session; everything else needs that session.
    ("GET", "/i/{token}"): PUBLIC,
    ("POST", "/api/candidate/session"): PUBLIC,
    ("GET", "/take"): CANDIDATE,
    ("POST", "/take/start"): CANDIDATE,
    ("POST", "/take/comments"): CANDIDATE,
    ("POST", "/take/comments/{client_id}"): CANDIDATE,
    ("POST", "/take/comments/{client_id}/delete"): CANDIDATE,
    ("POST", "/take/comments/{client_id}/move"): CANDIDATE,
    ("POST", "/take/summary"): CANDIDATE,
    ("GET", "/take/submit"): CANDIDATE,
    ("POST", "/take/submit"): CANDIDATE,
    ("GET", "/take/receipt"): CANDIDATE,
    ("GET", "/api/candidate"): CANDIDATE,
    ("POST", "/api/candidate/start"): CANDIDATE,
    ("PUT", "/api/candidate/draft"): CANDIDATE,
    ("POST", "/api/candidate/submit"): CANDIDATE,
    ("GET", "/api/candidate/receipt"): CANDIDATE,
    # Invites: any staff member may hand out an assessment.
    ("GET", "/staff/invites"): STAFF,
    ("POST", "/staff/invites"): STAFF,
    ("POST", "/staff/invites/bulk"): STAFF,
    ("POST", "/staff/invites/{invite_id}/revoke"): STAFF,
    ("GET", "/staff/invites/{invite_id}/erase"): ADMINS,
    ("POST", "/staff/invites/{invite_id}/erase"): ADMINS,
    # Accounts.
    ("GET", "/staff/users"): ADMINS,
    ("POST", "/staff/users"): ADMINS,
    ("POST", "/staff/users/{user_id}/active"): ADMINS,
    # Grading.
    ("GET", "/staff/queue"): GRADERS,
    ("GET", "/staff/submissions/{submission_id}"): GRADERS,
    ("POST", "/staff/submissions/{submission_id}/matches"): GRADERS,
    ("POST", "/staff/submissions/{submission_id}/flags"): GRADERS,
    ("POST", "/staff/submissions/{submission_id}/overrides"): GRADERS,
    ("POST", "/staff/submissions/{submission_id}/finalize"): GRADERS,
    ("POST", "/staff/submissions/{submission_id}/reopen"): ADMINS,
    ("POST", "/staff/submissions/{submission_id}/reveal"): ADMINS,
    ("GET", "/staff/bugs"): GRADERS,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/account"): STAFF,
    ("POST", "/account/password"): STAFF,
    ("POST", "/staff/users/{user_id}/role"): ADMINS,
    ("POST", "/staff/users/{user_id}/password"): ADMINS,
    ("GET", "/staff/models"): ADMINS,
    ("POST", "/staff/models/retrain"): ADMINS,
    ("GET", "/staff/export-decisions.csv"): GRADERS,
    ("GET", "/staff/bugs/{slug}/{bug}"): GRADERS,
    ("POST", "/staff/bugs/{slug}/{bug}"): GRADERS,
    ("GET", "/api/staff/submissions/{submission_id}"): GRADERS,
    ("POST", "/api/staff/submissions/{submission_id}/decisions"): GRADERS,
    ("GET", "/staff/export"): GRADERS,
    ("GET", "/staff/export.json"): GRADERS,
    ("GET", "/staff/export.csv"): GRADERS,
    # Authoring.
    ("GET", "/staff/assessments"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/preview"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/try"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/try"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/try/form"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/lint"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/analysis"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/analysis/{chart}.svg"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/analysis/{table}.csv"): AUTHORS,
    ("GET", "/staff/assessments/{slug}/versions/{number}/rescore"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/rescore"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/publish"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/retire"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/versions/{number}/discard"): AUTHORS,
    ("GET", "/staff/assessments/new"): AUTHORS,
    ("POST", "/staff/assessments/new"): AUTHORS,
    ("POST", "/staff/assessments/{slug}/edit"): AUTHORS,
    ("GET", "/staff/assessments/drafts/{draft_id}"): AUTHORS,
    ("POST", "/staff/assessments/drafts/{draft_id}"): AUTHORS,
    ("POST", "/staff/assessments/drafts/{draft_id}/publish"): AUTHORS,
    ("POST", "/staff/assessments/drafts/{draft_id}/discard"): AUTHORS,
}

# State-changing routes that may be called without a CSRF token, and why.
CSRF_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/logout"): "checked only when a session exists; without one it changes nothing",
    ("POST", "/api/candidate/session"): "trades the invite token for a first session; a forged "
    "call needs the secret token and only opens that invite",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CANDIDATE_PREFIXES = ("/take", "/api/candidate")


def iter_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps included routers as nodes
            yield from iter_routes(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, prefix + route.path
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            yield type(route).__name__, prefix + str(getattr(route, "path", route))


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves."""
    return sorted(set(iter_routes(app.routes)))


class Actors:
    """One client per role, made on demand with fresh sessions."""

    def __init__(self, client: TestClient, session: Session) -> None:
        self.client = client
        self.session = session
        self.users = {role: make_user(session, role=role) for role in Role}
        # As many comments as the default score refers to: a score must fit its review.
        self.submission = make_submission(
            session,
            comments=[
                "The cache key ignores the model.",
                "Retries after the first delta duplicate output.",
                "Usage is lost on early exits.",
            ],
        )
        make_auto_score(session, self.submission)
        self.target_user = make_user(session, role=Role.grader)
        invite_submission = make_submission(session, comments=["draft"])
        self.candidate_invite = invite_submission.invite
        # Revoked by the matrix, so it must not be the one the candidate uses.
        self.spare_invite = make_submission(session, comments=["spare"]).invite
        # Erased by the matrix: every other route keeps its invite.
        self.erasable_invite_id = make_submission(session, comments=["erasable"]).invite.id
        self.presession = new_token()

    def as_role(self, role: str, path: str) -> dict[str, str]:
        """Set the client's cookies for `role`; returns the CSRF token that role would send."""
        self.client.cookies.clear()
        self.client.cookies.set(PRESESSION_COOKIE, self.presession)
        seed = self.presession
        if role == "candidate":
            token = new_token()
            self.candidate_invite.session_hash = token_hash(token)
            self.session.flush()
            self.client.cookies.set(CANDIDATE_COOKIE, token)
            if path.startswith(CANDIDATE_PREFIXES):
                seed = token
        elif role != "anonymous":
            token = users_service.start_session(self.session, self.users[Role(role)])
            self.client.cookies.set(SESSION_COOKIE, token)
            seed = token
        csrf = csrf_token_for(seed)
        return {"csrf_token": csrf}

    def url(self, path: str) -> str:
        """`path` with real values in its parameters."""
        values = {
            "submission_id": str(self.submission.id),
            "user_id": str(self.target_user.id),
            "token": "not-a-real-invite-token",
            "invite_id": str(self.spare_invite.id),
            "client_id": "c-1",
            "slug": DEFAULT_ASSESSMENT,
            "chart": "totals",
            "table": "bugs",
            "name": "rubric",
        }
        if path.endswith("/erase"):
            values["invite_id"] = str(self.erasable_invite_id)
        return re.sub(r"{(\w+)(:\w+)?}", lambda m: values.get(m.group(1), "1"), path)

    def call(self, method: str, path: str, *, csrf: str | None) -> Response:
        """One request; CSRF in both the header and the form when given."""
        url = "/static/app.css" if method == "MOUNT" else self.url(path)
        if method in ("GET", "MOUNT"):
            return self.client.get(url, follow_redirects=False)
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        data = {"csrf_token": csrf} if csrf else {}
        return self.client.request(method, url, data=data, headers=headers, follow_redirects=False)


def allowed(response: Response) -> bool:
    """Whether the request got past access control (any answer but a refusal to this caller)."""
    if response.status_code in (401, 403):
        return False
    location = response.headers.get("location", "")
    return not (response.is_redirect and location.startswith("/login?next="))


@pytest.fixture
def actors(client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch) -> Actors:
    """Accounts of every role, a graded submission and a candidate's invite."""
    # The matrix checks who may start a retrain, not the retrain (tests/web/test_retrain.py):
    # a real one would train for minutes and switch the models every later test grades with.
    monkeypatch.setattr(retraining, "start_in_background", lambda user, force=False: None)
    return Actors(client, session)


def test_every_route_is_in_the_access_table(client: TestClient) -> None:
    unlisted = [route for route in app_routes(client.app) if route not in EXPECTED_ACCESS]  # type: ignore[arg-type]
    assert unlisted == [], (
        "routes without an entry in EXPECTED_ACCESS (tests/web/test_roles.py); decide who may "
        f"call them and add them: {unlisted}"
    )


def test_role_matrix(actors: Actors) -> None:
    routes = app_routes(actors.client.app)  # type: ignore[arg-type]
    mismatches = []
    for method, path in routes:
        expected = EXPECTED_ACCESS.get((method, path))
        if expected is None:
            continue  # reported by test_every_route_is_in_the_access_table
        for role in ROLES:
            csrf = actors.as_role(role, path)["csrf_token"]
            response = actors.call(method, path, csrf=csrf)
            assert response.status_code < 500, (method, path, role, response.text[:300])
            if allowed(response) != (role in expected):
                mismatches.append((method, path, role, response.status_code))
    assert mismatches == []


def test_state_changes_without_a_valid_csrf_token_are_refused(actors: Actors) -> None:
    checked = 0
    for method, path in app_routes(actors.client.app):  # type: ignore[arg-type]
        if method not in STATE_CHANGING or (method, path) in CSRF_EXEMPT:
            continue
        access = EXPECTED_ACCESS.get((method, path), ADMINS)
        role = "admin" if "admin" in access else sorted(access)[0]
        for csrf in (None, "0" * 64):
            actors.as_role(role, path)
            response = actors.call(method, path, csrf=csrf)
            assert response.status_code == 403, (method, path, role, csrf, response.text[:200])
        checked += 1
    assert checked >= 10


def test_a_valid_csrf_token_of_another_session_is_refused(actors: Actors) -> None:
    other = actors.as_role("admin", "/staff/users")["csrf_token"]
    actors.as_role("admin", "/staff/users")  # a new session: the old token is someone else's
    response = actors.call("POST", "/staff/users", csrf=other)
    assert response.status_code == 403


def test_sessions_expire(actors: Actors) -> None:
    actors.as_role("grader", "/staff/queue")
    from sqlalchemy import update

    from app.users.models import UserSession

    actors.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = actors.call("GET", "/staff/queue", csrf=None)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/staff/queue"
