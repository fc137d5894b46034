"""The front page and the health check answer on a migrated database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.migrate import head_revision


def test_home_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Redline" in response.text


def test_healthz_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "migrations": {"current": head_revision(), "head": head_revision(), "up_to_date": True},
    }


def test_unknown_page_is_a_clear_404(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "Traceback" not in response.text
