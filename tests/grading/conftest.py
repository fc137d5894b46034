"""Shared fixtures: the trained grader (once per session), the Go fixture assessment, the
shipped assessments, and reviews built from a few comments."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import strategies as st

from grading import (
    AnswerKey,
    Assessment,
    Grade,
    Grader,
    Review,
    default_grader,
    load_answer_key,
    load_assessment,
    parse_review,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GO_ASSESSMENT = FIXTURES / "assessments" / "go-quota"
GO_BUGS = FIXTURES / "seeded_bugs" / "go-quota.yaml"
GO_REVIEWS = FIXTURES / "reviews" / "go-quota.jsonl"


@pytest.fixture(scope="session")
def grader() -> Grader:
    return default_grader(ROOT)


@pytest.fixture(scope="session")
def go_assessment() -> Assessment:
    return load_assessment(GO_ASSESSMENT)


@pytest.fixture(scope="session")
def go_key(go_assessment: Assessment) -> AnswerKey:
    return load_answer_key(GO_BUGS, go_assessment)


@cache
def shipped(slug: str) -> tuple[Assessment, AnswerKey]:
    """A shipped assessment (`assessments/<slug>`) and its answer key, loaded once."""
    assessment = load_assessment(ROOT / "assessments" / slug)
    return assessment, load_answer_key(ROOT / "seeded_bugs" / f"{slug}.yaml", assessment)


def review(
    *comments: dict[str, object], summary: str = "", rid: str = "r", assessment: str = "go-quota"
) -> Review:
    """A review (FORMATS.md section 3) of these comments, most urgent first."""
    return parse_review(
        {"id": rid, "assessment": assessment, "comments": list(comments), "summary": summary}
    )


def grade(
    grader: Grader, a: Assessment, k: AnswerKey, *comments: dict[str, object], summary: str = ""
) -> Grade:
    """`grader`'s grade of a review of these comments on `a`."""
    return grader.grade(review(*comments, summary=summary, assessment=a.slug), a, k)


def texts_of(
    pieces: Sequence[str], *, glues: Sequence[str] = (" ", "", "\n"), max_pieces: int = 10
) -> st.SearchStrategy[str]:
    """Texts made of `pieces` joined by one of `glues`: what a fast path and the pattern it
    stands for must agree on, edge cases (case folding, glued words) included."""
    return st.builds(
        lambda parts, glue: glue.join(parts),
        st.lists(st.sampled_from(list(pieces)), max_size=max_pieces),
        st.sampled_from(list(glues)),
    )
