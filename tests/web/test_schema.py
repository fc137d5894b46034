"""The JSON API against its own OpenAPI schema: schemathesis generates requests for every
operation (bounded), and no answer may be a 5xx or differ from the documented response."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine

from app.db import get_sessionmaker
from app.main import create_app
from app.security import csrf_token_for, new_token, token_hash
from app.submissions.models import SubmissionStatus
from app.users import service as users_service
from app.users.models import Role
from tests.web.factories import make_auto_score, make_submission, make_user

APP = create_app()
schema = schemathesis.openapi.from_dict(APP.openapi())


@pytest.fixture(scope="module")
def credentials(engine: Engine) -> Iterator[dict[str, Any]]:
    """Cookies and CSRF header of a signed-in admin who is also mid-assessment as a candidate.

    Committed: the app under test opens its own sessions.
    """
    with get_sessionmaker().begin() as session:
        admin = make_user(session, role=Role.admin)
        staff_token = users_service.start_session(session, admin)
        graded = make_submission(session, comments=["The cache key ignores the model."])
        make_auto_score(session, graded)
        draft = make_submission(session, comments=["draft"], status=SubmissionStatus.in_progress)
        candidate_token = new_token()
        draft.invite.session_hash = token_hash(candidate_token)
    yield {
        "cookies": {"redline_session": staff_token, "redline_candidate": candidate_token},
        "staff_csrf": csrf_token_for(staff_token),
        "candidate_csrf": csrf_token_for(candidate_token),
    }


# Submits grade with the instant grader: this is about the API, not the engine.
@pytest.mark.usefixtures("fake_grader")
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_documented(case: Any, credentials: dict[str, Any]) -> None:
    candidate = case.path.startswith("/api/candidate")
    csrf = credentials["candidate_csrf" if candidate else "staff_csrf"]
    case.call_and_validate(
        app=APP,
        headers={"X-CSRF-Token": csrf},
        cookies=credentials["cookies"],
        checks=[not_a_server_error, response_schema_conformance],
    )
