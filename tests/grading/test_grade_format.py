"""A grade read back from its dict (`Grade.from_dict`): every graded corpus review round-trips,
old stored scores load, and a bad field is named."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from grading import (
    Grade,
    GradeFormatError,
    Grader,
    Review,
    iter_review_lines,
)
from tests.grading.conftest import ROOT, shipped


def _corpus_grades(grader: Grader) -> list[Grade]:
    grades = []
    for path in sorted((ROOT / "corpora" / "reviews").glob("*.jsonl")):
        assessment, key = shipped(path.stem)
        reviews: list[Review] = [line.review for line in iter_review_lines(path) if line.review]
        grades += grader.grade_many(reviews, assessment, key)
    return grades


@pytest.fixture(scope="module")
def corpus_grades(grader: Grader) -> list[Grade]:
    return _corpus_grades(grader)


def test_every_graded_corpus_review_reads_back_as_it_was_written(
    corpus_grades: list[Grade],
) -> None:
    # One grade per corpus review, each line of the files a review.
    files = (ROOT / "corpora" / "reviews").glob("*.jsonl")
    assert len(corpus_grades) == sum(len(p.read_text().splitlines()) for p in files) >= 200
    for grade in corpus_grades:
        written = json.loads(json.dumps(grade.to_dict(explain=True)))
        back = Grade.from_dict(written)
        assert back.to_dict(explain=True) == written, grade.id
        assert back == Grade.from_dict(back.to_dict(explain=True)), grade.id
        # What to_dict does not round survives exactly; what it rounds, to its precision.
        assert (back.id, back.needs_review) == (grade.id, grade.needs_review)
        assert [(m.bug, m.comment) for m in back.matches] == [
            (m.bug, m.comment) for m in grade.matches
        ]
        assert back.red_flags == grade.red_flags
        assert back.near_misses == grade.near_misses
        assert back.false_alarms == grade.false_alarms
        assert [(c.kind, c.tradeoff) for c in back.comments] == [
            (c.kind, c.tradeoff) for c in grade.comments
        ]
        assert back.total == pytest.approx(grade.total, abs=0.005)
        for (name, score), (same, original) in zip(back.dimensions, grade.dimensions, strict=True):
            assert name == same and score == pytest.approx(original, abs=0.05)
        assert back.evidence.summary_priority == grade.evidence.summary_priority
        assert back.evidence.review_reasons == grade.evidence.review_reasons
    # The corpus exercises every part of a grade, so the round trip above checks them all.
    assert all(
        any(getattr(g, part) for g in corpus_grades)
        for part in ("matches", "red_flags", "near_misses", "false_alarms")
    )


# A score and its evidence as the service stored them before the evidence carried
# `summary_priority` (the shape of the first release; the score itself has not changed).
OLD_RESULT: dict[str, Any] = {
    "id": "sub-7Qx",
    "total": 47.5,
    "dimensions": {"detection": 50.0, "severity": 40.0, "tradeoffs": 60.0, "tool_taste": 37.5},
    "matches": [{"bug": "cache-key-ignores-params", "comment": 0, "confidence": 0.912}],
    "red_flags": [{"kind": "no_questions", "comment": -1, "evidence": ""}],
    "comments": [
        {"kind": "defect", "confidence": 0.88, "tradeoff": False},
        {"kind": "style", "confidence": 0.6, "tradeoff": False},
    ],
    "near_misses": [{"bug": "stream-usage-lost", "comment": 1, "kind": "misplaced"}],
    "false_alarms": [],
    "needs_review": True,
}
OLD_EVIDENCE: dict[str, Any] = {
    "dimensions": {
        "detection": {
            "score": 50.0,
            "points": [{"points": 50.0, "reason": "found cache-key-ignores-params", "comment": 0}],
        },
        "severity": {"score": 40.0, "points": []},
        "tradeoffs": {"score": 60.0, "points": []},
        "tool_taste": {"score": 37.5, "points": [{"points": -12.5, "reason": "no question"}]},
    },
    "matches": [
        {
            "bug": "cache-key-ignores-params",
            "comment": 0,
            "confidence": 0.912,
            "signals": {"location": 1.0, "words": 0.64},
            "words": ["cache key", "messages"],
            "explanation": "comment 0 points at client.py:73, inside the bug's lines",
        }
    ],
    "red_flags": [{"kind": "no_questions", "comment": -1, "explanation": "asks nothing"}],
    "needs_review_because": ["a red flag"],
}


def test_a_score_stored_by_an_earlier_version_still_loads() -> None:
    grade = Grade.from_dict({**OLD_RESULT, "evidence": OLD_EVIDENCE})
    assert grade.total == 47.5 and grade.dimension("tool_taste") == 37.5
    assert [(m.bug, m.comment, m.confidence) for m in grade.matches] == [
        ("cache-key-ignores-params", 0, 0.912)
    ]
    assert [n.kind for n in grade.near_misses] == ["misplaced"]
    assert grade.evidence.summary_priority == ()
    assert grade.evidence.matches[0].words == ("cache key", "messages")
    assert grade.evidence.dimensions[3].points[0].points == -12.5
    assert grade.to_dict() == OLD_RESULT
    # A score stored without evidence has none.
    assert Grade.from_dict(OLD_RESULT).evidence.matches == ()


def _without(data: dict[str, Any], *path: str | int) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


def _with(data: dict[str, Any], value: object, *path: str | int) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


FULL = {**OLD_RESULT, "evidence": OLD_EVIDENCE}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without(OLD_RESULT, "needs_review"), "needs_review: required field is missing"),
        (_without(OLD_RESULT, "dimensions", "severity"), "dimensions.severity: required"),
        (_with(OLD_RESULT, {"speed": 1}, "dimensions"), "dimensions: must be one of"),
        (_with(OLD_RESULT, "47", "total"), "total: must be a number, got '47'"),
        (_with(OLD_RESULT, 120, "total"), "total: must be in 0..100, got 120"),
        (_with(OLD_RESULT, True, "matches", 0, "comment"), "matches[0].comment: must be a whole"),
        (_with(OLD_RESULT, -2, "matches", 0, "comment"), "matches[0].comment: must be a comment"),
        (_with(OLD_RESULT, 1.5, "matches", 0, "confidence"), "matches[0].confidence: must be in"),
        (_without(OLD_RESULT, "matches", 0, "bug"), "matches[0].bug: required field is missing"),
        (_with(OLD_RESULT, "loud", "red_flags", 0, "kind"), "red_flags[0].kind: must be one of"),
        (_with(OLD_RESULT, "no", "comments", 1, "tradeoff"), "comments[1].tradeoff: must be true"),
        (_with(OLD_RESULT, "close", "near_misses", 0, "kind"), "near_misses[0].kind: must be one"),
        (
            _with(OLD_RESULT, 2, "matches", 0, "comment"),
            "matches[0].comment: names comment 2, but the grade lists 2 comment(s)",
        ),
        (
            _with(OLD_RESULT, [{"decoy": "retry", "comment": 5}], "false_alarms"),
            "false_alarms[0].comment: names comment 5, but the grade lists 2 comment(s)",
        ),
        (_with(OLD_RESULT, {}, "false_alarms"), "false_alarms: must be a list, got dict"),
        (_with(OLD_RESULT, ["x"], "false_alarms"), "false_alarms[0]: must be an object"),
        (_without(FULL, "evidence", "matches", 0, "words"), "evidence.matches[0].words: required"),
        (
            _with(FULL, "high", "evidence", "matches", 0, "signals", "words"),
            "evidence.matches[0].signals.words: must be a number",
        ),
        (
            _without(FULL, "evidence", "dimensions", "detection", "points", 0, "reason"),
            "evidence.dimensions.detection.points[0].reason: required field is missing",
        ),
        (_with(FULL, [1], "evidence", "summary_priority"), "evidence.summary_priority[0]: must"),
    ],
)
def test_a_bad_field_is_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(GradeFormatError) as caught:
        Grade.from_dict(data)
    assert str(caught.value).startswith(message)


def test_a_grade_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(GradeFormatError, match=r"^grade: must be an object, got list$"):
        Grade.from_dict([OLD_RESULT])  # type: ignore[arg-type]
