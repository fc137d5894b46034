"""Files the service ships with, found inside the installed packages or, in a checkout, at
its top level (see setup.py: a wheel carries them as package data)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from app.settings import PROJECT_ROOT


def _packaged(package: str, *parts: str) -> Path | None:
    path = Path(str(files(package).joinpath(*parts)))
    return path if path.is_dir() else None


def migrations_dir() -> Path:
    """Alembic's script folder."""
    return _packaged("app", "migrations") or PROJECT_ROOT / "migrations"


def shipped_content() -> tuple[Path, Path]:
    """The shipped example assessments and their answer keys: (assessments, seeded_bugs)."""
    root = _packaged("grading", "data") or PROJECT_ROOT
    return root / "assessments", root / "seeded_bugs"


def reference_dir() -> Path:
    """The rubric and the file formats, as Markdown, that the staff reference pages show."""
    return _packaged("app", "reference") or PROJECT_ROOT / "docs" / "reference"
