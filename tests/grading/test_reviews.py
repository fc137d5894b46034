"""Review parsing (FORMATS.md section 3): what is accepted, and errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grading import ReviewFormatError, parse_review
from grading.reviews import iter_review_lines


def test_minimal_review_parses() -> None:
    review = parse_review({"id": "r-1", "assessment": "a"})
    assert review.comments == ()
    assert review.summary == ""


def test_full_review_parses() -> None:
    review = parse_review(
        {
            "id": "r-1",
            "assessment": "a",
            "summary": "fix it",
            "comments": [
                {"file": "x.py", "line": 4, "end_line": 6, "severity": "Critical", "body": "b"},
                {"body": ""},
            ],
            "gold": {"ignored": True},
        }
    )
    first, second = review.comments
    assert (first.file, first.line, first.end_line, first.severity) == ("x.py", 4, 6, "critical")
    assert second.body == "" and second.line is None


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ([], ""),
        ({"assessment": "a"}, "id"),
        ({"id": "", "assessment": "a"}, "id"),
        ({"id": "r"}, "assessment"),
        ({"id": "r", "assessment": "a", "comments": {}}, "comments"),
        ({"id": "r", "assessment": "a", "comments": ["x"]}, "comments[0]"),
        ({"id": "r", "assessment": "a", "comments": [{}]}, "comments[0].body"),
        ({"id": "r", "assessment": "a", "comments": [{"body": 3}]}, "comments[0].body"),
        (
            {"id": "r", "assessment": "a", "comments": [{"body": "", "line": "4"}]},
            "comments[0].line",
        ),
        ({"id": "r", "assessment": "a", "comments": [{"body": "", "line": 0}]}, "comments[0].line"),
        (
            {"id": "r", "assessment": "a", "comments": [{"body": "", "line": True}]},
            "comments[0].line",
        ),
        (
            {"id": "r", "assessment": "a", "comments": [{"body": "", "end_line": 2.5}]},
            "comments[0].end_line",
        ),
        (
            {"id": "r", "assessment": "a", "comments": [{"body": "", "severity": "blocker"}]},
            "comments[0].severity",
        ),
        ({"id": "r", "assessment": "a", "comments": [{"body": "", "file": 7}]}, "comments[0].file"),
        ({"id": "r", "assessment": "a", "summary": ["x"]}, "summary"),
    ],
)
def test_malformed_review_names_the_field(obj: object, field: str) -> None:
    with pytest.raises(ReviewFormatError) as info:
        parse_review(obj)
    assert info.value.field == field


def test_reviews_file_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "assessment": "x"}),
                "{not json",
                "",
                json.dumps({"id": "b", "assessment": "x", "comments": [{"line": 3}]}),
                json.dumps({"id": "c", "assessment": "x"}),
            ]
        )
        + "\n"
    )
    items = list(iter_review_lines(path, display="reviews.jsonl"))
    assert [i.review.id for i in items if i.review] == ["a", "c"]
    problems = [str(i.problem) for i in items if i.problem]
    assert problems[0].startswith("reviews.jsonl:2: invalid JSON")
    assert problems[1] == "reviews.jsonl:4: comments[0].body: required field is missing"
