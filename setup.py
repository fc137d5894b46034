"""Packaging beyond pyproject.toml: a wheel carries what the service needs outside `app/`.

The repository keeps migrations, the shipped assessments, their answer keys and the training
corpora at its top level, where authors and Alembic expect them. A wheel has no such top
level, so they are copied into the packages at build time: `app/migrations/`,
`app/reference/` (the rubric and the formats the staff pages show) and
`grading/data/{assessments,seeded_bugs,corpora}/`. `app.resources` and
`grading.training.default_root` look there when no checkout is around them. An editable
install reads the checkout itself, so nothing is copied for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {
    "migrations": Path("app") / "migrations",
    "assessments": Path("grading") / "data" / "assessments",
    "seeded_bugs": Path("grading") / "data" / "seeded_bugs",
    "corpora": Path("grading") / "data" / "corpora",
    "docs/reference": Path("app") / "reference",
}


class BuildWithContent(build_py):
    """build_py, then copy the top-level content folders into the built packages."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for source, target in BUNDLED.items():
            destination = Path(self.build_lib) / target
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(
                ROOT / source,
                destination,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"),
            )


setup(cmdclass={"build_py": BuildWithContent})
