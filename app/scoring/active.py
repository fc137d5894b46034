"""The models the service grades with: the active retrained ones, or the shipped ones.

The pointer to the active models lives in the data directory (`grading.registry`). Every
grading asks `current()`, which compares the pointer's modification time and size with what
this process loaded: a switch made by `redline retrain` or by the admin page, in this worker
or another, is picked up at the next grading without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from app.settings import get_settings
from grading import Grader, Registry, assemble

SHIPPED_PREFIX = "shipped-"


@dataclass(frozen=True)
class Active:
    """A grader and the model version that names it (registry version, or `shipped-...`)."""

    grader: Grader
    version: str
    stamp: tuple[int, int, int] | None
    folder: Path


_lock = threading.Lock()
_current: Active | None = None


def registry() -> Registry:
    """The registry of trained models in the configured data directory."""
    return Registry(get_settings().data_dir / "models")


def shipped_grader() -> Grader:
    """The grader trained on the configured corpora alone; kept in the data directory's cache
    between starts."""
    from grading import default_grader as engine_grader

    settings = get_settings()
    return engine_grader(
        cache_dir=settings.data_dir / "cache" / "grading", corpora_dir=settings.corpora_dir
    )


def shipped_version(grader: Grader) -> str:
    """The model version of the shipped models: named by their parameters' digest."""
    return SHIPPED_PREFIX + grader.version.removeprefix("grading-")


def current() -> Active:
    """The active grader, reloaded when the pointer changed since this process last looked."""
    global _current
    models = registry()
    stamp = models.stamp()
    with _lock:
        found = _current
        if found is not None and found.folder == models.folder and found.stamp == stamp:
            return found
        version = models.active_version() if stamp is not None else None
        if version is None:
            grader = shipped_grader()
            active = Active(grader, shipped_version(grader), stamp, models.folder)
        else:
            active = Active(assemble(models.load(version)), version, stamp, models.folder)
        _current = active
        return active


def loaded_version() -> str | None:
    """The model version this process grades with, if it has loaded one (nothing is trained
    or loaded to answer)."""
    found = _current
    return found.version if found is not None else None


def version_of(grader: object) -> str | None:
    """The model version of a grader this module handed out; None for any other grader."""
    found = _current
    return found.version if found is not None and found.grader is grader else None


def forget() -> None:
    """Drop what this process loaded (tests, and after a switch made in this process)."""
    global _current
    with _lock:
        _current = None
