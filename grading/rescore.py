"""Re-score a graded review after a human grader's decisions, by the rubric's own functions.

When a grader confirms, rejects or adds a match, detection and severity are recomputed with
exactly the rules the auto-score used (`grading.scoring`, RUBRIC.md); tradeoffs and tool taste
depend on reading the prose, so they keep the auto value unless the grader overrides them. An
override always wins. Nothing changed: the engine's own total stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from grading import scoring
from grading.errors import DecisionError
from grading.types import DIMENSIONS, SUMMARY, AnswerKey, Comment, Rubric


@dataclass(frozen=True)
class Rescore:
    """Dimension scores after the grader's decisions, where each came from, and the total."""

    dimensions: dict[str, float]
    sources: dict[str, str]  # "auto" | "recomputed" | "override", per dimension
    total: float


def _check(
    answer_key: AnswerKey,
    comments: Sequence[Comment],
    kinds: Sequence[str | None],
    matches: Sequence[tuple[str, int]],
    overrides: Mapping[str, float],
) -> None:
    if len(kinds) > len(comments):
        raise DecisionError(f"kinds: {len(kinds)} given for {len(comments)} comment(s)")
    known = {b.id for b in answer_key.bugs}
    for bug, comment in matches:
        if bug not in known:
            raise DecisionError(
                f"match ({bug!r}, {comment}): the answer key of {answer_key.assessment!r} has "
                f"no bug {bug!r}"
            )
        if comment != SUMMARY and not 0 <= comment < len(comments):
            raise DecisionError(
                f"match ({bug!r}, {comment}): the review has {len(comments)} comment(s); "
                f"{SUMMARY} is the summary"
            )
    for dimension, value in overrides.items():
        if dimension not in DIMENSIONS:
            raise DecisionError(
                f"override {dimension!r}: not a dimension (one of {', '.join(DIMENSIONS)})"
            )
        if not 0.0 <= float(value) <= 100.0:
            raise DecisionError(f"override {dimension!r}: {value} is outside 0..100")


def detection(found: Iterable[str], answer_key: AnswerKey) -> float:
    """Detection (RUBRIC.md) of the found bugs, rounded to one place."""
    return round(scoring.detection(dict.fromkeys(found, 0), answer_key.bugs).score, 1)


def severity(
    matches: Sequence[tuple[str, int]],
    comments: Sequence[Comment],
    kinds: Sequence[str | None],
    answer_key: AnswerKey,
    summary_priority: Sequence[str] = (),
) -> float:
    """Severity ranking (RUBRIC.md) of ordered (bug, comment) matches, rounded to one place.

    A comment that finds several bugs mentions them in the order the matches list them; an
    explicit priority stated in the summary, as the engine read it, overrides comment order.
    A comment whose kind is unknown (None), or that finds a bug, counts as raising a problem.
    """
    found: dict[str, int] = {}
    for bug, comment in matches:
        found.setdefault(bug, comment)
    items = []
    for i, said in enumerate(comments):
        finds = tuple(dict.fromkeys(b for b, c in matches if c == i))
        if scoring.raises_problem(kinds[i] if i < len(kinds) else None, finds):
            items.append(scoring.Item(i, said.severity, finds))
    items.append(scoring.Item(SUMMARY, None, tuple(b for b, c in matches if c == SUMMARY)))
    return round(scoring.severity(items, found, answer_key.bugs, summary_priority).score, 1)


def weighted_total(dimensions: Mapping[str, float], rubric: Rubric) -> float:
    """The rubric-weighted sum of the dimensions on 0..100, rounded to one place."""
    weight_sum = sum(rubric.weight(d) for d in DIMENSIONS)
    if weight_sum <= 0:
        return 0.0
    total = sum(rubric.weight(d) * float(dimensions.get(d, 0.0)) for d in DIMENSIONS)
    return round(total / weight_sum, 1)


def rescore(
    answer_key: AnswerKey,
    rubric: Rubric,
    *,
    comments: Sequence[Comment],
    kinds: Sequence[str | None],
    auto: Mapping[str, float],
    auto_total: float | None,
    auto_matches: Iterable[tuple[str, int]],
    matches: Sequence[tuple[str, int]],
    overrides: Mapping[str, float] | None = None,
    summary_priority: Sequence[str] = (),
) -> Rescore:
    """The grade as it stands after a grader's decisions.

    Parameters
    ----------
    answer_key, rubric
        The assessment's answer key and rubric weights the review was graded against.
    comments
        The review's comments, most urgent first (their severities order the findings).
    kinds
        The auto-grader's kind of each comment (`Grade.comments`); None where unknown.
    auto, auto_total
        The auto-grader's dimension scores and total (None: there was no auto-score).
    auto_matches
        The (bug id, comment index) matches of the auto-score; comment -1 is the summary.
    matches
        The matches that count now, in order: kept auto matches, then ones a grader added.
    overrides
        Dimension scores a grader set by hand, 0..100.
    summary_priority
        Bugs an explicit priority in the summary puts in order, as the auto-grade read it.

    Raises
    ------
    DecisionError
        A match names a bug the key does not have or a comment the review does not have, or
        an override names no dimension or lies outside 0..100.
    """
    overrides = overrides or {}
    _check(answer_key, comments, kinds, matches, overrides)
    dimensions = {d: float(auto.get(d, 0.0)) for d in DIMENSIONS}
    sources = dict.fromkeys(DIMENSIONS, "auto")
    if set(matches) != set(auto_matches) and answer_key.bugs:
        dimensions["detection"] = detection({bug for bug, _ in matches}, answer_key)
        dimensions["severity"] = severity(matches, comments, kinds, answer_key, summary_priority)
        sources["detection"] = sources["severity"] = "recomputed"
    for dimension, value in overrides.items():
        dimensions[dimension] = float(value)
        sources[dimension] = "override"
    if auto_total is not None and set(sources.values()) == {"auto"}:
        return Rescore(dimensions, sources, float(auto_total))
    return Rescore(dimensions, sources, weighted_total(dimensions, rubric))
