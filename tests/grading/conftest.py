"""Shared fixtures: the trained grader (once per session) and the Go fixture assessment."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading import (
    AnswerKey,
    Assessment,
    Grader,
    default_grader,
    load_answer_key,
    load_assessment,
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
