"""The value types of the grading engine: content, reviews and grades.

All are frozen dataclasses so they can be shared between threads and cached safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "nit")
Severity = Literal["critical", "major", "minor", "nit"]
DIMENSIONS: tuple[str, ...] = ("detection", "severity", "tradeoffs", "tool_taste")
COMMENT_KINDS: tuple[str, ...] = ("defect", "style", "question", "suggestion", "praise", "other")
RED_FLAG_KINDS: tuple[str, ...] = ("rewrite", "framework", "style_only", "no_questions")


@dataclass(frozen=True)
class LineRange:
    """An inclusive range of 1-based line numbers."""

    start: int
    end: int

    def __contains__(self, line: object) -> bool:
        return isinstance(line, int) and self.start <= line <= self.end

    def distance(self, start: int, end: int) -> int:
        """Lines between this range and [start, end]; 0 when they overlap."""
        if end < self.start:
            return self.start - end
        if start > self.end:
            return start - self.end
        return 0


@dataclass(frozen=True)
class Rubric:
    """Weights of the four dimensions; they sum to 100."""

    detection: float = 30.0
    severity: float = 25.0
    tradeoffs: float = 25.0
    tool_taste: float = 20.0

    def weight(self, dimension: str) -> float:
        """The weight of one dimension by name."""
        return float(getattr(self, dimension))

    def total(self, dimensions: dict[str, float]) -> float:
        """The rubric-weighted sum of dimension scores (each 0..100), on 0..100."""
        return sum(self.weight(d) * dimensions[d] for d in DIMENSIONS) / 100.0


@dataclass(frozen=True)
class SnippetFile:
    """One file of an assessment's snippet, as the candidate sees it."""

    name: str
    text: str

    @property
    def line_count(self) -> int:
        """Number of lines, counting a last line without a newline."""
        return len(self.text.splitlines())


@dataclass(frozen=True)
class Assessment:
    """An assessment folder (FORMATS.md section 1)."""

    slug: str
    title: str
    language: str
    time_limit_minutes: int
    brief: str
    files: tuple[SnippetFile, ...]
    rubric: Rubric = field(default_factory=Rubric)

    def file(self, name: str) -> SnippetFile | None:
        """The snippet file called `name`, or None."""
        return next((f for f in self.files if f.name == name), None)


@dataclass(frozen=True)
class SeededBug:
    """One known defect of an assessment (FORMATS.md section 2)."""

    id: str
    title: str
    description: str
    rank: int
    file: str | None = None
    lines: tuple[LineRange, ...] = ()
    subtle: bool = False
    phrases: tuple[str, ...] = ()

    @property
    def weight(self) -> int:
        """Detection weight: a subtle bug counts double (RUBRIC.md)."""
        return 2 if self.subtle else 1


@dataclass(frozen=True)
class Decoy:
    """Code that looks wrong but is correct on purpose."""

    id: str
    why: str
    file: str | None = None
    lines: tuple[LineRange, ...] = ()


@dataclass(frozen=True)
class AnswerKey:
    """The seeded bugs and decoys of one assessment."""

    assessment: str
    bugs: tuple[SeededBug, ...]
    decoys: tuple[Decoy, ...] = ()

    def bug(self, bug_id: str) -> SeededBug | None:
        """The bug with this id, or None."""
        return next((b for b in self.bugs if b.id == bug_id), None)


@dataclass(frozen=True)
class Comment:
    """One review comment; anchor and severity are optional."""

    body: str
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Review:
    """A candidate's review (FORMATS.md section 3); comments are most urgent first."""

    id: str
    assessment: str
    comments: tuple[Comment, ...] = ()
    summary: str = ""
