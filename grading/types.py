"""The value types of the grading engine: content, reviews and grades.

All are frozen dataclasses so they can be shared between threads and cached safely.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from grading.errors import GradeFormatError

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

NEAR_MISS_KINDS: tuple[str, ...] = ("misdiagnosed", "misplaced")


# Readers of a stored grade: each names the path of the value it rejects (`matches[1].bug`).


def _path(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _object(raw: object, where: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise GradeFormatError(where, f"must be an object, got {type(raw).__name__}")
    return cast(Mapping[str, object], raw)


def _field(obj: Mapping[str, object], key: str, where: str) -> object:
    if key not in obj:
        raise GradeFormatError(_path(where, key), "required field is missing")
    return obj[key]


def _text(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        raise GradeFormatError(where, f"must be a string, got {type(raw).__name__}")
    return raw


def _choice(raw: object, where: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise GradeFormatError(where, f"must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _number(raw: object, where: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise GradeFormatError(where, f"must be a number, got {raw!r}")
    if not low <= raw <= high:
        raise GradeFormatError(where, f"must be in {low:g}..{high:g}, got {raw!r}")
    return float(raw)


def _comment_index(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise GradeFormatError(where, f"must be a whole comment index, got {raw!r}")
    if raw < SUMMARY:
        raise GradeFormatError(where, f"must be a comment index or {SUMMARY}, got {raw}")
    return raw


def _flag(raw: object, where: str) -> bool:
    if not isinstance(raw, bool):
        raise GradeFormatError(where, f"must be true or false, got {raw!r}")
    return raw


def _items(raw: object, where: str) -> list[object]:
    if not isinstance(raw, list):
        raise GradeFormatError(where, f"must be a list, got {type(raw).__name__}")
    return raw


def _texts(raw: object, where: str) -> tuple[str, ...]:
    return tuple(_text(item, _path(where, i)) for i, item in enumerate(_items(raw, where)))


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

    @classmethod
    def from_dict(cls, raw: object, where: str = "point") -> Point:
        """The point `to_dict` wrote; `GradeFormatError` names the first bad field."""
        obj = _object(raw, where)
        comment = obj.get("comment")
        return cls(
            points=_number(
                _field(obj, "points", where), _path(where, "points"), -math.inf, math.inf
            ),
            reason=_text(_field(obj, "reason", where), _path(where, "reason")),
            comment=None if comment is None else _comment_index(comment, _path(where, "comment")),
            quote=_text(obj.get("quote", ""), _path(where, "quote")),
            signal=_text(obj.get("signal", ""), _path(where, "signal")),
        )

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

    @classmethod
    def from_dict(cls, dimension: str, raw: object, where: str) -> DimensionEvidence:
        """The evidence of `dimension` as `to_dict` wrote it."""
        obj = _object(raw, where)
        points = _items(_field(obj, "points", where), _path(where, "points"))
        return cls(
            dimension=dimension,
            score=_number(_field(obj, "score", where), _path(where, "score"), 0.0, 100.0),
            points=tuple(
                Point.from_dict(p, _path(_path(where, "points"), i)) for i, p in enumerate(points)
            ),
        )

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

    @classmethod
    def from_dict(cls, raw: object, where: str) -> MatchEvidence:
        """The match evidence `to_dict` wrote."""
        obj = _object(raw, where)
        at = _path(where, "signals")
        return cls(
            bug=_text(_field(obj, "bug", where), _path(where, "bug")),
            comment=_comment_index(_field(obj, "comment", where), _path(where, "comment")),
            confidence=_number(
                _field(obj, "confidence", where), _path(where, "confidence"), 0.0, 1.0
            ),
            signals=tuple(
                (name, _number(value, _path(at, name), -math.inf, math.inf))
                for name, value in _object(_field(obj, "signals", where), at).items()
            ),
            words=_texts(_field(obj, "words", where), _path(where, "words")),
            explanation=_text(_field(obj, "explanation", where), _path(where, "explanation")),
        )

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

    @classmethod
    def from_dict(cls, raw: object, where: str = "evidence") -> Evidence:
        """The evidence `to_dict` wrote. Each part may be absent, as in evidence stored before
        `summary_priority` existed; a part present must be well formed."""
        obj = _object(raw, where)
        dimensions = _object(obj.get("dimensions", {}), _path(where, "dimensions"))
        for name in dimensions:
            _choice(name, _path(where, "dimensions"), DIMENSIONS)
        at = _path(where, "red_flags")
        flags = []
        for i, item in enumerate(_items(obj.get("red_flags", []), at)):
            flag = _object(item, _path(at, i))
            flags.append(
                (
                    _text(_field(flag, "kind", _path(at, i)), _path(_path(at, i), "kind")),
                    _comment_index(
                        _field(flag, "comment", _path(at, i)), _path(_path(at, i), "comment")
                    ),
                    _text(
                        _field(flag, "explanation", _path(at, i)),
                        _path(_path(at, i), "explanation"),
                    ),
                )
            )
        at = _path(where, "matches")
        return cls(
            dimensions=tuple(
                DimensionEvidence.from_dict(
                    name, dimensions[name], _path(_path(where, "dimensions"), name)
                )
                for name in DIMENSIONS
                if name in dimensions
            ),
            matches=tuple(
                MatchEvidence.from_dict(m, _path(at, i))
                for i, m in enumerate(_items(obj.get("matches", []), at))
            ),
            flags=tuple(flags),
            review_reasons=_texts(
                obj.get("needs_review_because", []), _path(where, "needs_review_because")
            ),
            summary_priority=_texts(
                obj.get("summary_priority", []), _path(where, "summary_priority")
            ),
        )


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

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Grade:
        """Read back a grade as `to_dict` wrote it (FORMATS.md section 4), checking every field.

        Parameters
        ----------
        data
            A score: `id`, `total`, `dimensions`, `matches`, `red_flags`, `comments`,
            `near_misses`, `false_alarms`, `needs_review`, and optionally `evidence` (as
            `to_dict(explain=True)` adds it).

        Returns
        -------
        Grade
            Equal to the grade that wrote `data`, up to the rounding `to_dict` applies.

        Raises
        ------
        GradeFormatError
            Naming the path of the first missing or bad field, e.g. `matches[1].confidence`.
        """
        obj = _object(data, "grade")
        raw_dimensions = _object(_field(obj, "dimensions", ""), "dimensions")
        for name in raw_dimensions:
            _choice(name, "dimensions", DIMENSIONS)

        def each(key: str) -> list[tuple[str, Mapping[str, object]]]:
            items = _items(_field(obj, key, ""), key)
            return [(_path(key, i), _object(item, _path(key, i))) for i, item in enumerate(items)]

        def get(item: Mapping[str, object], where: str, key: str) -> tuple[object, str]:
            return _field(item, key, where), _path(where, key)

        grade = cls(
            id=_text(*get(obj, "", "id")),
            total=_number(*get(obj, "", "total"), 0.0, 100.0),
            dimensions=tuple(
                (name, _number(*get(raw_dimensions, "dimensions", name), 0.0, 100.0))
                for name in DIMENSIONS
            ),
            matches=tuple(
                Match(
                    bug=_text(*get(m, at, "bug")),
                    comment=_comment_index(*get(m, at, "comment")),
                    confidence=_number(*get(m, at, "confidence"), 0.0, 1.0),
                )
                for at, m in each("matches")
            ),
            red_flags=tuple(
                RedFlag(
                    kind=_choice(*get(f, at, "kind"), RED_FLAG_KINDS),
                    comment=_comment_index(*get(f, at, "comment")),
                    evidence=_text(*get(f, at, "evidence")),
                )
                for at, f in each("red_flags")
            ),
            comments=tuple(
                CommentLabel(
                    kind=_choice(*get(c, at, "kind"), COMMENT_KINDS),
                    confidence=_number(*get(c, at, "confidence"), 0.0, 1.0),
                    tradeoff=_flag(*get(c, at, "tradeoff")),
                )
                for at, c in each("comments")
            ),
            near_misses=tuple(
                NearMiss(
                    bug=_text(*get(n, at, "bug")),
                    comment=_comment_index(*get(n, at, "comment")),
                    kind=cast(
                        Literal["misdiagnosed", "misplaced"],
                        _choice(*get(n, at, "kind"), NEAR_MISS_KINDS),
                    ),
                )
                for at, n in each("near_misses")
            ),
            false_alarms=tuple(
                FalseAlarm(
                    decoy=_text(*get(f, at, "decoy")),
                    comment=_comment_index(*get(f, at, "comment")),
                )
                for at, f in each("false_alarms")
            ),
            needs_review=_flag(*get(obj, "", "needs_review")),
            evidence_source=Evidence.from_dict(obj["evidence"])
            if "evidence" in obj
            else Evidence(),
        )
        grade._check_comment_indices()
        return grade

    def _check_comment_indices(self) -> None:
        """`comments` has one entry per review comment, so every other list's comment index
        must be one of them (or the summary): a grade that names comment 7 of three is corrupt,
        and would fail later, far from here, when a grader re-scores it."""
        listed = len(self.comments)
        items: tuple[tuple[str, Sequence[Match | RedFlag | NearMiss | FalseAlarm]], ...] = (
            ("matches", self.matches),
            ("red_flags", self.red_flags),
            ("near_misses", self.near_misses),
            ("false_alarms", self.false_alarms),
        )
        for key, entries in items:
            for i, entry in enumerate(entries):
                if entry.comment >= listed:
                    raise GradeFormatError(
                        _path(_path(key, i), "comment"),
                        f"names comment {entry.comment}, but the grade lists {listed} comment(s)",
                    )

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
