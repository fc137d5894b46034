"""Make a worker ready before it takes its first request.

A fresh worker pays once for things every later request reuses: SQLAlchemy configures its
mappers at the first query, FastAPI builds each included router's routes at the first request
that reaches it, and Jinja compiles each template the first time it renders. Paid lazily,
that is most of a second of CPU per worker spent inside the first requests, and in a deadline
rush those are hundreds of candidates arriving together, whose requests then wait behind it.
Paid here, at start-up, before the worker accepts connections, nobody waits for it.

The grader is not loaded here: on a data directory without trained models that means minutes
of training, which would then compete with the first requests for the interpreter; the first
Start begins it (`app.scoring.service.warm_up`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import configure_mappers

from app import passwords
from app.templating import templates

logger = logging.getLogger(__name__)

# Tests build an app for nearly every test and touch a route or two of it; they switch this
# off, and test `prepare` itself.
ENABLED = True


def _routes(routes: list[Any]) -> None:
    # FastAPI resolves an included router's routes (their parameters, bodies and responses)
    # when a request first reaches it; asking for them now does that work. Duck-typed, so a
    # FastAPI without this lazy step simply has nothing to do here.
    for route in routes:
        for name in ("effective_candidates", "effective_low_priority_routes"):
            resolve = getattr(route, name, None)
            if callable(resolve):
                _routes([c for c in resolve() if hasattr(c, "effective_candidates")])


def prepare(app: FastAPI) -> None:
    """Do the once-per-worker work now; a failure is logged and left to the first request."""
    if not ENABLED:
        return
    try:
        configure_mappers()
        _routes(list(app.router.routes))
        for name in templates.env.list_templates(extensions=["html"]):
            templates.env.get_template(name)
    except Exception:
        logger.exception("preparing the worker failed; its first requests will do it instead")
    # On the low-priority hashing thread, in the background.
    threading.Thread(target=passwords.dummy_hash, name="dummy-hash", daemon=True).start()
