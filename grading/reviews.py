"""Parse reviews (FORMATS.md section 3) from dicts and JSON Lines files.

A batch must survive a bad line: `read_reviews` yields a `Problem` for each malformed line,
naming file, line and field, and goes on with the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grading.errors import Problem, ReviewFormatError
from grading.types import SEVERITIES, Comment, Review, Severity

COMMENT_FIELDS = ("file", "line", "end_line", "severity", "body")


def _optional_str(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReviewFormatError(field, f"must be a string or null, got {type(value).__name__}")
    return value


def _line(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReviewFormatError(field, f"must be a whole line number or null, got {value!r}")
    if value < 1:
        raise ReviewFormatError(field, f"line numbers start at 1, got {value}")
    return value


def _severity(value: Any, field: str) -> Severity | None:
    if value is None:
        return None
    if isinstance(value, str):
        normalised = value.strip().lower()
        for severity in SEVERITIES:
            if severity == normalised:
                return severity  # type: ignore[return-value]
    raise ReviewFormatError(field, f"must be one of {', '.join(SEVERITIES)} or null, got {value!r}")


def _comment(raw: Any, index: int) -> Comment:
    where = f"comments[{index}]"
    if not isinstance(raw, dict):
        raise ReviewFormatError(where, f"must be an object, got {type(raw).__name__}")
    body = raw.get("body")
    if body is None:
        raise ReviewFormatError(f"{where}.body", "required field is missing")
    if not isinstance(body, str):
        raise ReviewFormatError(f"{where}.body", f"must be a string, got {type(body).__name__}")
    file = _optional_str(raw.get("file"), f"{where}.file")
    line = _line(raw.get("line"), f"{where}.line")
    end_line = _line(raw.get("end_line"), f"{where}.end_line")
    if end_line is not None and line is None:
        # An end without a start is a mis-click; the end line still says where the comment is.
        line = end_line
    return Comment(
        body=body,
        file=file.strip() or None if file is not None else None,
        line=line,
        end_line=end_line,
        severity=_severity(raw.get("severity"), f"{where}.severity"),
    )


def parse_review(obj: Any) -> Review:
    """Build a `Review` from one parsed JSON object (FORMATS.md section 3).

    Fields beyond the format (such as a corpus' `gold` labels) are ignored. Line numbers are
    taken as given, even when they fall outside the snippet: the grader tolerates them.

    Parameters
    ----------
    obj
        The decoded JSON object.

    Returns
    -------
    Review
        The review, comments in the candidate's order.

    Raises
    ------
    ReviewFormatError
        With the dotted `field` (``comments[2].line``) and what is wrong with it.
    """
    if not isinstance(obj, dict):
        raise ReviewFormatError("", f"a review must be a JSON object, got {type(obj).__name__}")
    review_id = obj.get("id")
    if isinstance(review_id, bool) or not isinstance(review_id, str | int) or review_id == "":
        raise ReviewFormatError("id", "required: a non-empty string")
    assessment = obj.get("assessment")
    if not isinstance(assessment, str) or not assessment:
        raise ReviewFormatError("assessment", "required: the assessment's slug")
    raw_comments = obj.get("comments")
    if raw_comments is None:
        raw_comments = []
    if not isinstance(raw_comments, list):
        raise ReviewFormatError("comments", f"must be a list, got {type(raw_comments).__name__}")
    comments = tuple(_comment(raw, i) for i, raw in enumerate(raw_comments))
    summary = _optional_str(obj.get("summary"), "summary") or ""
    return Review(id=str(review_id), assessment=assessment, comments=comments, summary=summary)


@dataclass(frozen=True)
class ReviewLine:
    """One line of a reviews file: the review (None when it was malformed) and its raw object."""

    line: int
    review: Review | None
    raw: dict[str, Any] | None
    problem: Problem | None = None


def iter_review_lines(path: Path, *, display: str | None = None) -> Iterator[ReviewLine]:
    """Read a JSON Lines file of reviews; blank lines are skipped, bad ones reported, not raised."""
    name = display or str(path)
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield ReviewLine(
                    number,
                    None,
                    None,
                    Problem(name, number, "", f"invalid JSON: {exc.msg} (column {exc.colno})"),
                )
                continue
            try:
                review = parse_review(obj)
            except ReviewFormatError as exc:
                yield ReviewLine(
                    number,
                    None,
                    obj if isinstance(obj, dict) else None,
                    Problem(name, number, exc.field, exc.message),
                )
                continue
            yield ReviewLine(number, review, obj)
