"""A worker is ready before its first request: routes built, templates compiled."""

from __future__ import annotations

import pytest

from app import warm
from app.main import create_app
from app.templating import templates


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm, "ENABLED", True)


def _unbuilt(routes: list[object]) -> list[object]:
    # FastAPI keeps an included router's routes unresolved (version None) until first asked.
    left = []
    for route in routes:
        if hasattr(route, "effective_candidates"):
            if getattr(route, "_effective_candidates_version", 0) is None:
                left.append(route)
            left.extend(_unbuilt(getattr(route, "_effective_candidates", [])))
    return left


def test_start_up_builds_every_route_and_compiles_every_template(enabled: None) -> None:
    app = create_app()
    included = [r for r in app.router.routes if hasattr(r, "effective_candidates")]
    assert included, "FastAPI no longer builds included routes lazily; this step can go"
    assert _unbuilt(list(app.router.routes))
    templates.env.cache.clear()  # type: ignore[union-attr]

    warm.prepare(app)

    assert _unbuilt(list(app.router.routes)) == []
    names = templates.env.list_templates(extensions=["html"])
    cached = {name for (_loader, name), _t in templates.env.cache.items()}  # type: ignore[union-attr]
    assert set(names) <= cached


def test_switched_off_it_does_nothing() -> None:
    app = create_app()
    warm.prepare(app)
    assert _unbuilt(list(app.router.routes))
