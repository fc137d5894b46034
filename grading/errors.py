"""Every error the grading engine raises.

The tree::

    GradingError
    ├── ContentError          an assessment or answer key breaks FORMATS.md sections 1-2
    ├── ReviewFormatError     a review breaks FORMATS.md section 3
    ├── GradeFormatError      a stored grade breaks FORMATS.md section 4
    ├── ModelError            a trained model cannot be built or loaded
    └── DecisionError         a grader's decision names no bug, comment or dimension of the review
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, located by file, line and field."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class GradingError(Exception):
    """Base class of every error raised by `grading`."""


class ContentError(GradingError):
    """An assessment or answer key is invalid; `problems` lists every defect found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ReviewFormatError(GradingError):
    """A review does not follow FORMATS.md section 3."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class GradeFormatError(GradingError):
    """A grade read back (`Grade.from_dict`) does not follow FORMATS.md section 4; `field` is
    the path to the first bad value, e.g. `matches[1].confidence`."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class ModelError(GradingError):
    """A trained model could not be built or loaded."""


class DecisionError(GradingError):
    """A human grader's decision does not fit the review or its answer key (see `rescore`)."""
