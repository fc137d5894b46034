"""Security headers on every page and response, and no remote images from candidate Markdown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app
from app.settings import Settings
from app.templating import render_markdown
from app.users.models import Role
from tests.web.factories import make_invite, make_submission, make_user, sign_in
from tests.web.test_roles import app_routes

PIXEL = "http://tracker.example/t.png?who=me"


def _assert_secure(response: Any, *, static: bool = False) -> None:
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path}"
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, where
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, where
    assert "img-src 'self' data:" in policy, where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert "strict-transport-security" not in headers, where  # plain http
    if static:
        assert "no-store" not in headers.get("cache-control", ""), where
    else:
        assert headers.get("cache-control") == "no-store", where


def _get_routes() -> list[str]:
    return sorted(path for method, path in app_routes(create_app()) if method == "GET")


def test_every_get_route_and_error_gets_the_headers(client: TestClient, session: Session) -> None:
    """Every GET route (pages, API, downloads), an error, a static file and a POST."""
    admin = make_user(session, role=Role.admin)
    submission = make_submission(session, comments=["A comment."])
    known = {"submission_id": str(submission.id), "token": make_invite(session).token}
    sign_in(client, session, admin)
    seen = []
    for path in _get_routes():
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: known.get(m.group(1), "1"), path)
        response = client.get(url, follow_redirects=False)
        assert response.status_code < 500, (url, response.status_code)
        _assert_secure(response, static=path == "/favicon.ico")
        seen.append(path)
    assert {"/", "/login", "/staff/queue", "/staff/invites", "/take", "/healthz"} <= set(seen)
    _assert_secure(client.get("/no/such/page"))
    _assert_secure(client.post("/logout", data={}, follow_redirects=False))
    _assert_secure(client.get("/static/app.css"), static=True)


def test_a_candidate_page_is_not_stored(client: TestClient, session: Session) -> None:
    opened = client.get(f"/i/{make_invite(session).token}", follow_redirects=False)
    assert opened.status_code == 303
    _assert_secure(opened)
    page = client.get("/take")
    assert page.status_code == 200
    _assert_secure(page)


@pytest.mark.parametrize("base_url", ["https://redline.example", "http://127.0.0.1:8000"])
def test_hsts_only_under_https(
    session: Session, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Patched on the class: setting the field on the cached settings would mark it as
    # configured for the rest of the run.
    monkeypatch.setattr(
        Settings, "secure_cookies", property(lambda self: base_url.startswith("https://"))
    )
    with TestClient(create_app()) as plain:
        sent = plain.get("/healthz").headers.get("strict-transport-security")
    assert (sent is not None) == base_url.startswith("https://")
    if sent:
        assert sent.startswith("max-age=31536000")
    monkeypatch.setattr(Settings, "secure_cookies", property(lambda self: False))
    with TestClient(create_app(), base_url="https://testserver") as tls:
        assert "max-age" in tls.get("/healthz").headers["strict-transport-security"]


@pytest.mark.parametrize(
    "text",
    [
        f"![pixel]({PIXEL})",
        f"![]({PIXEL})",
        f'![pixel][ref]\n\n[ref]: {PIXEL} "t"',
        f'<img src="{PIXEL}">',
        f"[![nested]({PIXEL})](http://example.com)",
    ],
)
def test_markdown_shows_images_as_their_address(text: str) -> None:
    html = str(render_markdown(text))
    assert "<img" not in html
    assert "tracker.example/t.png" in html  # the address is shown, as text


def test_the_grader_page_loads_no_remote_image(client: TestClient, session: Session) -> None:
    grader = make_user(session, role=Role.grader)
    submission = make_submission(
        session, comments=[f"See ![p]({PIXEL}) here."], summary=f"![s]({PIXEL})"
    )
    sign_in(client, session, grader)
    page = client.get(f"/staff/submissions/{submission.id}")
    assert page.status_code == 200
    assert "<img" not in page.text
    # Shown as an address in the comment and the summary, never as an image.
    assert page.text.count(f"<code>{PIXEL}</code>") == 2
