"""Agreement metrics computed from hand-built grades and gold labels."""

from __future__ import annotations

from typing import Any

import pytest

from grading.evaluation import score_against_gold
from grading.training import Gold, LabelledReview
from grading.types import DIMENSIONS, Grade, Review, Rubric


def pair(slug: str, auto: dict[str, float], gold: dict[str, float]) -> tuple[LabelledReview, Grade]:
    review = Review(id=f"{slug}-1", assessment=slug)
    labels = Gold((), (), gold, Rubric().total(gold), (), ())
    grade = Grade(review.id, Rubric().total(auto), tuple((d, auto[d]) for d in DIMENSIONS))
    return LabelledReview(review, labels, "x.jsonl", 1), grade


def test_each_dimension_reports_its_error_its_direction_and_its_weight_in_the_total() -> None:
    gold = {"detection": 50.0, "severity": 50.0, "tradeoffs": 50.0, "tool_taste": 75.0}
    low = {**gold, "tradeoffs": 25.0}
    high = {**gold, "tradeoffs": 100.0, "tool_taste": 100.0}
    dims: Any = score_against_gold("x", [pair("a", low, gold), pair("a", high, gold)]).metrics[
        "dimensions"
    ]
    assert dims["tradeoffs"]["mae"] == pytest.approx(37.5)
    assert dims["tradeoffs"]["bias"] == pytest.approx(12.5)  # one 25 under, one 50 over
    # 37.5 points of tradeoffs at the default weight 25 are 9.375 total points, rounded.
    assert dims["tradeoffs"]["weighted_mae"] == 9.38
    assert dims["tool_taste"]["bias"] == pytest.approx(12.5)
    assert (dims["detection"]["mae"], dims["detection"]["bias"]) == (0.0, 0.0)


def test_a_dimension_weighs_by_its_own_assessments_rubric() -> None:
    gold = {"detection": 50.0, "severity": 50.0, "tradeoffs": 50.0, "tool_taste": 50.0}
    off = {**gold, "tool_taste": 100.0}
    rubrics = {"heavy": Rubric(detection=20.0, severity=20.0, tradeoffs=20.0, tool_taste=40.0)}
    metrics: Any = score_against_gold(
        "x", [pair("heavy", off, gold), pair("plain", off, gold)], rubrics=rubrics
    ).metrics
    # 50 points off at 40% and at the default 20%: 20 and 10 total points, 15 on average.
    assert metrics["dimensions"]["tool_taste"]["weighted_mae"] == pytest.approx(15.0)
