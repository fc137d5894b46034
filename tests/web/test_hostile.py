"""Hostile input gets a clear 4xx, never a 500: every route, walked with values that overflow,
cannot be stored, or are not what they look like. Runs on whichever database the suite uses
(PostgreSQL refuses NUL in text and numbers past 2^31; SQLite past 2^63)."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app
from app.security import csrf_token_for, new_token, token_hash
from app.submissions.deps import COOKIE_NAME as CANDIDATE_COOKIE
from app.submissions.models import SubmissionStatus
from app.users.models import Role
from tests.web.conftest import _free_port
from tests.web.factories import make_submission, make_user, sign_in
from tests.web.test_roles import app_routes

HOSTILE_IDS = (
    "2147483648",
    "9223372036854775808",
    "1" + "0" * 40,
    "-1",
    "0",
    "²",
    "%00",
    "%ED%A0%80",
)
# Form bodies are UTF-8, so a lone surrogate can only arrive in JSON (as a \\u escape).
HOSTILE_TEXT = ("\x00", "a\x00b", "²", "1" + "0" * 30)
HOSTILE_JSON: dict[str, Any] = {
    "base_revision": 10**30,
    "comments": [
        {"client_id": "\ud800", "body": "a\x00b", "file": "\x00", "line": 2**63},
        {"body": "fine", "line": 10**30, "end_line": -(2**63)},
    ],
    "summary": "\udfff lone",
    "token": "\x00" * 10,
    "version": 2**40,
    "action": "match",
    "bug": "\x00",
    "comment": 2**63,
    "verdict": "\ud800",
}


def _fill(path: str, value: str) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda _m: value, path)


def _json_bytes(body: object) -> bytes:
    # ensure_ascii keeps lone surrogates as \\u escapes, as a hostile client would send them.
    return json.dumps(body, ensure_ascii=True).encode()


@pytest.fixture
def hostile_client(client: TestClient, session: Session) -> tuple[TestClient, str]:
    """A client signed in as an admin and holding an open candidate session; its CSRF token
    for staff routes and candidate routes."""
    staff_csrf = sign_in(client, session, make_user(session, role=Role.admin))
    submission = make_submission(
        session, comments=["The retry loop never backs off."], status=SubmissionStatus.in_progress
    )
    candidate_token = new_token()
    submission.invite.session_hash = token_hash(candidate_token)
    session.commit()  # a savepoint of the test's transaction: a route's rollback keeps it
    client.cookies.set(CANDIDATE_COOKIE, candidate_token)
    return client, staff_csrf + "|" + csrf_token_for(candidate_token)


def _send(client: TestClient, method: str, url: str, csrfs: str, body: str) -> int:
    staff_csrf, candidate_csrf = csrfs.split("|")
    csrf = candidate_csrf if url.startswith(("/take", "/api/candidate")) else staff_csrf
    headers = {"X-CSRF-Token": csrf}
    if method == "GET":
        return client.get(url, headers=headers, follow_redirects=False).status_code
    if body == "json":
        headers["Content-Type"] = "application/json"
        content = _json_bytes(HOSTILE_JSON)
        return client.request(method, url, content=content, headers=headers).status_code
    form = {name: body for name in ("email", "name", "password", "candidate_name", "summary")}
    form.update(
        {
            "csrf_token": csrf,
            "line": body,
            "end_line": body,
            "version": body,
            "comment": body,
            "assessment": body,
            "candidate_email": body,
            "expires": body,
            "body": body,
            "file": body,
            "severity": body,
            "direction": body,
            "role": body,
            "active": body,
            "bug": body,
            "verdict": body,
            "kind": body,
            "dimension": body,
            "value": body,
            "reason": body,
        }
    )
    return client.request(
        method, url, data=form, headers=headers, follow_redirects=False
    ).status_code


def test_every_route_refuses_hostile_values_without_a_server_error(
    hostile_client: tuple[TestClient, str],
) -> None:
    client, csrfs = hostile_client
    failures = []
    for method, path in app_routes(client.app):  # type: ignore[arg-type]
        if method == "MOUNT":
            continue
        has_param = "{" in path
        values = HOSTILE_IDS if has_param else ("",)
        for value in values:
            url = _fill(path, value)
            query = "?assessment=%00&status=%00&next=%00&file=%00&line=%C2%B2"
            for target in (url, url + query):
                bodies = ("",) if method == "GET" else ("json", *HOSTILE_TEXT)
                for body in bodies:
                    status = _send(client, method, target, csrfs, body)
                    if status >= 500:
                        failures.append((method, target, repr(body)[:20], status))
    assert failures == []


def test_api_errors_name_the_field_in_the_documented_shape(
    hostile_client: tuple[TestClient, str],
) -> None:
    client, csrfs = hostile_client
    _staff, candidate_csrf = csrfs.split("|")
    draft = {
        "base_revision": 0,
        "comments": [{"body": "fine"}, {"body": "lone \ud800 surrogate"}],
        "summary": "a\x00b",
    }
    response = client.put(
        "/api/candidate/draft",
        content=_json_bytes(draft),
        headers={"X-CSRF-Token": candidate_csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "code", "problems"}
    assert body["problems"] == [
        "comment 2: body: contains an unpaired UTF-16 surrogate, which is not valid Unicode",
        "summary: contains a NUL character (\\u0000), which cannot be stored",
    ]
    huge = client.put(
        "/api/candidate/draft",
        content=_json_bytes({"base_revision": 10**30, "comments": [], "summary": ""}),
        headers={"X-CSRF-Token": candidate_csrf, "Content-Type": "application/json"},
    )
    assert huge.status_code == 422
    assert huge.json()["problems"][0].startswith("base_revision: 1e+30 is out of range")


def test_a_superscript_digit_as_line_number_is_refused_by_name(
    hostile_client: tuple[TestClient, str],
) -> None:
    client, csrfs = hostile_client
    _staff, candidate_csrf = csrfs.split("|")
    response = client.post(
        "/take/comments",
        data={"csrf_token": candidate_csrf, "file": "", "line": "²", "body": "off by one"},
    )
    assert response.status_code == 422
    assert "comment 2: line &#39;²&#39; is not a line number" in response.text


def test_nul_in_an_invite_name_is_refused_naming_the_field(
    hostile_client: tuple[TestClient, str],
) -> None:
    client, csrfs = hostile_client
    staff_csrf, _candidate = csrfs.split("|")
    response = client.post(
        "/staff/invites",
        data={
            "csrf_token": staff_csrf,
            "assessment": "llm-gateway-client",
            "candidate_name": "A\x00",
        },
    )
    assert response.status_code == 422
    assert "form field &#39;candidate_name&#39;: contains a NUL character" in response.text


def test_an_id_past_the_integer_range_is_refused(
    hostile_client: tuple[TestClient, str],
) -> None:
    client, _csrfs = hostile_client
    response = client.get(f"/api/staff/submissions/{2**31}")
    assert response.status_code == 422
    assert response.json()["problems"] == [
        "submission_id: Input should be less than or equal to 2147483647"
    ]


@pytest.mark.server_error
def test_a_server_error_keeps_the_connection_open(engine: object) -> None:
    app = create_app()

    @app.get("/test-crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/test-crash", headers={"Accept": "application/json"})
        crashed = connection.getresponse()
        assert crashed.status == 500
        assert json.loads(crashed.read())["code"] == "server_error"
        sock = connection.sock
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200
        assert connection.sock is sock, "the server closed the connection after the 500"
        connection.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
