"""Retrain the grader on the corpora plus graders' decisions; switch only when no worse.

`retrain` refits every learned part (comment classifier, match combiner, level models) on the
shipped corpora and the decisions in the database (`app.scoring.learning`), compares the old
and the new training sets held out (`grading.retrain.compare`: leave-one-assessment-out), saves
the new models in the data directory and points the service at them when they are no worse:

    held-out match F1 >= old F1 - 0.01  and  held-out total MAE <= old MAE + 0.5 points

(pooled over every held-out review; `Tolerance`), or when forced. The old training set is the
corpora plus the decisions of the submissions the active model learned from, as they stand
now (none for the shipped models). Otherwise the old models keep
grading and the report says why. One retrain runs at a time (a lock file in the data
directory), whether started from the command line or from the admin page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.scoring import active, learning
from app.settings import get_settings
from app.users.models import User
from grading import (
    Comparison,
    ModelError,
    ModelInfo,
    RetrainRunning,
    Tolerance,
    format_comparison,
    new_model_version,
    refit,
)

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a retrain did: the versions, whether it switched, why, and the full report."""

    old_version: str
    new_version: str
    activated: bool
    forced: bool
    reason: str
    comparison: Comparison
    examples: dict[str, dict[str, int]]

    def table(self) -> str:
        """The side-by-side report as text."""
        return format_comparison(self.comparison, self.examples)

    def summary(self) -> str:
        """One paragraph: what grades now and why."""
        if self.activated and self.forced and not self.comparison.no_worse:
            return (
                f"Switched to {self.new_version} because it was forced, although "
                f"{self.reason.removeprefix('the new models are ')}."
            )
        if self.activated:
            return f"Switched to {self.new_version}: {self.reason}."
        return f"Kept {self.old_version}: {self.reason}."

    def to_report(self) -> dict[str, Any]:
        """Plain data kept with the new model's description."""
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "activated": self.activated,
            "forced": self.forced,
            "reason": self.reason,
            "summary": self.summary(),
            "comparison": self.comparison.to_dict(),
            "examples": self.examples,
        }


def retrain(
    session: Session,
    *,
    actor: User | str,
    force: bool = False,
    tolerance: Tolerance | None = None,
    progress: Callable[[str], None] | None = None,
) -> Outcome:
    """Refit on the corpora plus the database's decisions, compare held out, and switch when
    no worse (or `force`). Raises `RetrainRunning` while another retrain runs, and
    `ModelError` when there is nothing to train or compare on."""
    settings = get_settings()
    registry = active.registry()
    with registry.retrain_lock(label=actor.email if isinstance(actor, User) else actor):
        started = datetime.now(UTC)
        if progress is not None:
            progress("reading the graders' decisions")
        decided = learning.decided_reviews(session)
        session.rollback()  # training takes minutes: hold no transaction meanwhile
        old_version = registry.active_version()
        if old_version is None:
            old_version = active.shipped_version(active.shipped_grader())
            old_sources: tuple[int, ...] = ()
        else:
            old_sources = registry.info(old_version).decisions
        fitted = refit(
            decided,
            old_sources=old_sources,
            corpora_dir=settings.corpora_dir,
            tolerance=tolerance,
            cache_dir=settings.data_dir / "cache" / "grading" / "retrain",
            progress=progress,
        )
        comparison, models, examples = fitted.comparison, fitted.models, fitted.examples
        version = new_model_version(models, datetime.now(UTC))
        switch = comparison.no_worse or force
        outcome = Outcome(
            old_version, version, switch, force, comparison.reason, comparison, examples
        )
        report = outcome.to_report()
        report.update(
            {
                "started_at": started.isoformat(timespec="seconds"),
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "by": actor.email if isinstance(actor, User) else actor,
            }
        )
        info = ModelInfo(
            version=version,
            trained_at=report["finished_at"],
            digest=models.version,
            examples=examples["new"],
            decisions=tuple(d.source for d in decided),
            report=report,
        )
        registry.save(models, info)
        if switch:
            registry.activate(version)
        audit.record(
            session,
            actor,
            "model",
            version,
            "model.retrained",
            {"active": old_version},
            {"active": version if switch else old_version, "summary": outcome.summary()},
        )
        session.commit()
        return outcome


# -- in the background, for the admin page -------------------------------------------------------

_thread_lock = threading.Lock()
_last_error: dict[str, str] = {}


def last_error(folder: Path) -> str | None:
    """Why the last background retrain of this process failed, if it did."""
    return _last_error.get(str(folder))


def start_in_background(user: User, *, force: bool = False) -> None:
    """Run `retrain` on a thread of this process; `RetrainRunning` when one runs already."""
    from app.db import get_sessionmaker

    registry = active.registry()
    holder = registry.running()
    if holder is not None:
        raise_running(holder)
    email = user.email
    user_id = user.id
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with get_sessionmaker()() as session:
                actor = session.get(User, user_id) or email
                _last_error.pop(str(registry.folder), None)
                retrain(session, actor=actor, force=force, progress=_started(ready))
        except BaseException as exc:  # reported on the page, never lost in a thread
            failure.append(exc)
            if not isinstance(exc, RetrainRunning):  # a double click, answered at once
                _last_error[str(registry.folder)] = f"{type(exc).__name__}: {exc}"
                logger.exception("retraining failed")
        finally:
            ready.set()

    with _thread_lock:
        threading.Thread(target=run, name="retrain", daemon=True).start()
        # Wait until the thread holds the lock (or failed): a second click then sees it.
        ready.wait(timeout=30)
    if failure and isinstance(failure[0], ModelError):
        raise failure[0]


def _started(ready: threading.Event) -> Callable[[str], None]:
    def progress(what: str) -> None:
        ready.set()
        logger.info("retrain: %s", what)

    return progress


def raise_running(holder: dict[str, Any]) -> None:
    """Refuse to start while another retrain runs."""
    raise RetrainRunning(
        f"a retrain is already running (started {holder.get('started_at', 'just now')}"
        f"{' by ' + str(holder['label']) if holder.get('label') else ''}); "
        "its result appears here when it finishes"
    )
