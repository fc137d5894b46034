"""Re-scoring after a grader's decisions follows the rubric's own arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from grading import (
    DIMENSIONS,
    SUMMARY,
    AnswerKey,
    Comment,
    DecisionError,
    Rubric,
    SeededBug,
    rescore,
)
from grading.rescore import detection, severity, weighted_total

KEY = AnswerKey(
    "demo",
    (
        SeededBug("a", "bug a", "", 1),
        SeededBug("b", "bug b", "", 2),
        SeededBug("c", "bug c", "", 3, subtle=True),
    ),
)
PLAIN = [Comment("x"), Comment("y"), Comment("z")]
DEFECTS: list[str | None] = ["defect"] * 3
AUTO = {"detection": 50.0, "severity": 50.0, "tradeoffs": 40.0, "tool_taste": 80.0}


def _rescore(**changes: Any) -> Any:
    args: dict[str, Any] = {
        "comments": PLAIN,
        "kinds": DEFECTS,
        "auto": AUTO,
        "auto_total": 53.25,
        "auto_matches": [("a", 0)],
        "matches": [("a", 0)],
    }
    args.update(changes)
    return rescore(KEY, Rubric(), **args)


def test_detection_weighs_a_subtle_bug_double() -> None:
    assert detection({"a", "c"}, KEY) == 75.0
    assert detection(set(), KEY) == 0.0


def test_severity_follows_the_candidates_order_and_the_summary_priority() -> None:
    assert severity([], PLAIN, DEFECTS, KEY) == 0.0
    assert severity([("a", 0)], PLAIN, DEFECTS, KEY) == 75.0
    assert severity([("b", 0), ("a", 1)], PLAIN, DEFECTS, KEY) == 0.0
    # The candidate marked the second comment critical: it comes first in their order.
    marked = [Comment("x"), Comment("y", severity="critical")]
    assert severity([("b", 0), ("a", 1)], marked, DEFECTS, KEY) == 100.0
    # A style nit marked critical, placed above the real find, costs the first 50 points.
    nit_first = [Comment("x", severity="minor"), Comment("y", severity="critical")]
    assert severity([("a", 0)], nit_first, ["defect", "style"], KEY) == 25.0
    # One comment finding two bugs ranks them in the order the matches list them.
    assert severity([("a", 0), ("c", 0), ("b", 1)], PLAIN, DEFECTS, KEY) == pytest.approx(
        50 + 50 * 2 / 3, abs=0.1
    )
    # The summary says to fix a first, which overrides the comments' order.
    assert severity([("b", 0), ("a", 1)], PLAIN, DEFECTS, KEY, ["a", "b"]) == 100.0


def test_a_question_that_finds_a_bug_is_in_the_candidates_order() -> None:
    # "what happens if two requests hit this at once?" finds bug a; the critical comment below
    # it finds b. Marked critical, b comes first either way, but a is ranked by its comment,
    # not appended after every item as a bug no item found.
    comments = [Comment("x"), Comment("y", severity="critical"), Comment("z")]
    kinds: list[str | None] = ["question", "defect", "defect"]
    matches = [("a", 0), ("b", 1), ("c", 2)]
    # Order b, a, c: the top item misses rank 1 (0), pairs b>a wrong, b<c right, a<c right.
    assert severity(matches, comments, kinds, KEY) == pytest.approx(50 * 2 / 3, abs=0.1)
    # A question that finds nothing is still no item: here it would sit above the find.
    assert severity([("a", 1)], [Comment("x"), Comment("y")], ["question", "defect"], KEY) == 75.0


def test_weighted_total_uses_the_assessments_weights() -> None:
    only_detection = {"detection": 100.0, "severity": 0.0, "tradeoffs": 0.0, "tool_taste": 0.0}
    assert weighted_total(only_detection, Rubric()) == 30.0
    assert weighted_total(only_detection, Rubric(50.0, 20.0, 20.0, 10.0)) == 50.0


def test_nothing_changed_keeps_the_engines_own_total() -> None:
    result = _rescore()
    assert result.total == 53.25
    assert result.dimensions == AUTO
    assert set(result.sources.values()) == {"auto"}


def test_a_changed_match_recomputes_detection_and_severity_only() -> None:
    result = _rescore(matches=[("a", 0), ("b", 1)])
    assert result.dimensions["detection"] == 50.0
    assert result.dimensions["severity"] == 100.0
    assert result.sources == {
        "detection": "recomputed",
        "severity": "recomputed",
        "tradeoffs": "auto",
        "tool_taste": "auto",
    }
    assert result.total == pytest.approx(0.3 * 50 + 0.25 * 100 + 0.25 * 40 + 0.2 * 80)


def test_an_override_wins_over_recomputation() -> None:
    result = _rescore(matches=[("a", 0), ("b", 1)], overrides={"severity": 10.0})
    assert result.dimensions["severity"] == 10.0
    assert result.sources["severity"] == "override"
    assert result.dimensions["detection"] == 50.0


def test_the_summary_can_hold_a_match() -> None:
    result = _rescore(matches=[("a", SUMMARY)])
    assert result.sources["detection"] == "recomputed"
    assert result.dimensions["detection"] == 25.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"matches": [("nope", 0)]}, "no bug 'nope'"),
        ({"matches": [("a", 3)]}, "has 3 comment"),
        ({"overrides": {"speed": 50.0}}, "not a dimension"),
        ({"overrides": {"severity": 101.0}}, "outside 0..100"),
        ({"kinds": ["defect"] * 4}, "4 given for 3"),
    ],
)
def test_a_decision_that_does_not_fit_the_review_is_named(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(DecisionError, match=message):
        _rescore(**changes)


def test_every_dimension_has_a_source() -> None:
    assert set(_rescore(overrides={"tool_taste": 0.0}).sources) == set(DIMENSIONS)
