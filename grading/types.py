"""The value types of the grading engine: content, reviews and grades.

All are frozen dataclasses so they can be shared between threads and cached safely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# The comment index that stands for the summary in matches, flags and evidence (FORMATS.md).
SUMMARY = -1
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


# -- results of grading -------------------------------------------------------------------------

FLAG_ANCHOR = -1  # `comment` index meaning "the summary" or "the review as a whole"


@dataclass(frozen=True)
class Match:
    """A seeded bug found by a comment (`comment` is -1 when only the summary found it)."""

    bug: str
    comment: int
    confidence: float


@dataclass(frozen=True)
class NearMiss:
    """A comment that came close to a bug: `misdiagnosed` or `misplaced`."""

    bug: str
    comment: int
    kind: Literal["misdiagnosed", "misplaced"]


@dataclass(frozen=True)
class FalseAlarm:
    """A comment that calls a decoy a bug."""

    decoy: str
    comment: int


@dataclass(frozen=True)
class RedFlag:
    """A red flag for a human to confirm, with the words that raised it."""

    kind: str
    comment: int
    evidence: str


@dataclass(frozen=True)
class CommentLabel:
    """What the classifier takes one comment for."""

    kind: str
    confidence: float
    tradeoff: bool


@dataclass(frozen=True)
class Point:
    """One reason behind a dimension score, readable by a grader."""

    points: float
    reason: str
    comment: int | None = None
    quote: str = ""
    signal: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        out: dict[str, object] = {"points": round(self.points, 2), "reason": self.reason}
        if self.comment is not None:
            out["comment"] = self.comment
        if self.quote:
            out["quote"] = self.quote
        if self.signal:
            out["signal"] = self.signal
        return out


@dataclass(frozen=True)
class DimensionEvidence:
    """How one dimension's score was reached."""

    dimension: str
    score: float
    points: tuple[Point, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {"score": round(self.score, 1), "points": [p.to_dict() for p in self.points]}


@dataclass(frozen=True)
class MatchEvidence:
    """Why a comment was (or nearly was) taken to find a bug."""

    bug: str
    comment: int
    confidence: float
    signals: tuple[tuple[str, float], ...]
    words: tuple[str, ...]
    explanation: str

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "bug": self.bug,
            "comment": self.comment,
            "confidence": round(self.confidence, 3),
            "signals": {k: round(v, 3) for k, v in self.signals},
            "words": list(self.words),
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Evidence:
    """Every reason behind a grade: per dimension, per match, per flag, and what to check."""

    dimensions: tuple[DimensionEvidence, ...] = ()
    matches: tuple[MatchEvidence, ...] = ()
    flags: tuple[tuple[str, int, str], ...] = ()
    review_reasons: tuple[str, ...] = ()
    # Bugs an explicit priority statement in the summary puts first, in its order (RUBRIC.md
    # severity step 4), so a grader's recomputation after changing matches can honour it.
    summary_priority: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "dimensions": {d.dimension: d.to_dict() for d in self.dimensions},
            "matches": [m.to_dict() for m in self.matches],
            "red_flags": [
                {"kind": kind, "comment": comment, "explanation": text}
                for kind, comment, text in self.flags
            ],
            "needs_review_because": list(self.review_reasons),
            "summary_priority": list(self.summary_priority),
        }


def _round1(value: float) -> float:
    return round(float(value) + 0.0, 1)


@dataclass(frozen=True)
class Grade:
    """The score of one review (FORMATS.md section 4) with the evidence behind it."""

    id: str
    total: float
    dimensions: tuple[tuple[str, float], ...]
    matches: tuple[Match, ...] = ()
    red_flags: tuple[RedFlag, ...] = ()
    comments: tuple[CommentLabel, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    false_alarms: tuple[FalseAlarm, ...] = ()
    needs_review: bool = False
    # Built on first use: explanations cost more than the score, and a batch without
    # --explain never reads them.
    evidence_source: Evidence | Callable[[], Evidence] = field(
        default_factory=Evidence, compare=False, repr=False
    )

    @property
    def evidence(self) -> Evidence:
        """Per dimension the points and why, per match the signals and words, per flag the
        quoted evidence, and why the grade needs review."""
        source = self.evidence_source
        if not isinstance(source, Evidence):
            source = source()
            object.__setattr__(self, "evidence_source", source)
        return source

    def dimension(self, name: str) -> float:
        """The score of one dimension, 0..100."""
        return dict(self.dimensions)[name]

    def to_dict(self, *, explain: bool = False) -> dict[str, object]:
        """The score as FORMATS.md section 4; `explain=True` adds an `evidence` field.

        Parameters
        ----------
        explain
            Add the structured evidence (per dimension, per match, per flag) under `evidence`.

        Returns
        -------
        dict
            JSON-ready, keys in the order FORMATS.md shows them.
        """
        out: dict[str, object] = {
            "id": self.id,
            "total": round(self.total, 2),
            "dimensions": {name: _round1(score) for name, score in self.dimensions},
            "matches": [
                {"bug": m.bug, "comment": m.comment, "confidence": round(m.confidence, 3)}
                for m in self.matches
            ],
            "red_flags": [
                {"kind": f.kind, "comment": f.comment, "evidence": f.evidence}
                for f in self.red_flags
            ],
            "comments": [
                {"kind": c.kind, "confidence": round(c.confidence, 3), "tradeoff": c.tradeoff}
                for c in self.comments
            ],
            "near_misses": [
                {"bug": n.bug, "comment": n.comment, "kind": n.kind} for n in self.near_misses
            ],
            "false_alarms": [{"decoy": f.decoy, "comment": f.comment} for f in self.false_alarms],
            "needs_review": self.needs_review,
        }
        if explain:
            out["evidence"] = self.evidence.to_dict()
        return out


def comment_label(index: int, *, summary: str = "the summary") -> str:
    """A comment index as people read it: 'comment 1' is the first comment."""
    return summary if index == SUMMARY else f"comment {index + 1}"
