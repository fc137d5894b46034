"""Each rule of RUBRIC.md, pinned with hand-built inputs to the pure scoring functions."""

from __future__ import annotations

import pytest

from grading import scoring
from grading.scoring import CommentView, Item
from grading.types import Point, Rubric, SeededBug

CACHE = SeededBug(id="cache", title="Cache key ignores the tenant", description="d", rank=1)
RETRY = SeededBug(id="retry", title="Retry duplicates the stream", description="d", rank=2)
USAGE = SeededBug(
    id="usage", title="Usage lost on disconnect", description="d", rank=3, subtle=True
)
BUGS = (CACHE, RETRY, USAGE)


def view(
    i: int,
    text: str = "x",
    *,
    kind: str = "defect",
    tradeoff: float = 0.0,
    flag: str = "none",
    flag_confidence: float = 0.9,
) -> CommentView:
    return CommentView(i, text, kind, tradeoff, flag, flag_confidence)


# -- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ({}, 0.0),
        ({"cache": 0}, 25.0),
        ({"usage": 2}, 50.0),  # the subtle bug weighs 2 of 4
        ({"cache": 0, "retry": 1}, 50.0),
        ({"cache": 0, "retry": 0, "usage": -1}, 100.0),  # the summary counts too
    ],
)
def test_detection_weighs_the_subtle_bug_double(found: dict[str, int], expected: float) -> None:
    assert scoring.detection(found, BUGS).score == pytest.approx(expected)


def test_detection_explains_each_bug() -> None:
    result = scoring.detection({"cache": 2}, BUGS)
    assert result.points[0].comment == 2 and "comment 3 finds" in result.points[0].reason
    assert "subtle, weighs 2" in result.points[2].reason


# -- severity ------------------------------------------------------------------------------------


def test_severity_is_zero_without_finds() -> None:
    assert scoring.severity([Item(0, "critical", ())], {}, BUGS).score == 0.0


def test_rank1_first_and_pairs_in_order_scores_100() -> None:
    items = [Item(0, None, ("cache",)), Item(1, None, ("retry",)), Item(2, None, ("usage",))]
    found = {"cache": 0, "retry": 1, "usage": 2}
    assert scoring.severity(items, found, BUGS).score == pytest.approx(100.0)


def test_single_find_gets_half_the_pair_points() -> None:
    assert scoring.severity([Item(0, None, ("cache",))], {"cache": 0}, BUGS).score == 75.0
    assert scoring.severity([Item(0, None, ("retry",))], {"retry": 0}, BUGS).score == 25.0


def test_remark_finding_nothing_above_the_rank1_bug_loses_the_50() -> None:
    items = [Item(0, "critical", ()), Item(1, "major", ("cache",))]
    assert scoring.severity(items, {"cache": 1}, BUGS).score == 25.0


def test_severity_labels_reorder_comments() -> None:
    # Comment order says retry first, but the cache comment is marked critical.
    items = [Item(0, "minor", ("retry",)), Item(1, "critical", ("cache",))]
    assert scoring.severity(items, {"retry": 0, "cache": 1}, BUGS).score == 100.0


def test_comment_order_breaks_ties_among_equal_labels() -> None:
    items = [Item(0, "major", ("retry",)), Item(1, "major", ("cache",))]
    assert scoring.severity(items, {"retry": 0, "cache": 1}, BUGS).score == 0.0


def test_one_comment_finding_two_bugs_ranks_them_as_mentioned() -> None:
    # Retry then usage in comment 0, cache (minor) in comment 1: R, U, C -> 1 of 3 pairs.
    items = [Item(0, "critical", ("retry", "usage")), Item(1, "minor", ("cache",))]
    found = {"retry": 0, "usage": 0, "cache": 1}
    assert scoring.severity(items, found, BUGS).score == pytest.approx(50 / 3)


def test_summary_priority_overrides_labels_and_order() -> None:
    items = [Item(0, "critical", ("retry",)), Item(1, "nit", ("cache",)), Item(-1, None, ())]
    found = {"retry": 0, "cache": 1}
    assert scoring.severity(items, found, BUGS).score == 0.0
    assert scoring.severity(items, found, BUGS, ["cache", "retry"]).score == 100.0


@pytest.mark.parametrize(
    ("kind", "finds", "expected"),
    [
        ("defect", (), True),
        ("style", (), True),
        ("question", (), False),
        ("praise", (), False),
        ("question", ("cache",), True),  # a question that states the defect is a find
        (None, (), True),  # a kind nobody decided counts, as RUBRIC's items do
    ],
)
def test_which_comments_are_items_of_urgency(
    kind: str | None, finds: tuple[str, ...], expected: bool
) -> None:
    assert scoring.raises_problem(kind, finds) is expected


def test_summary_is_the_last_item() -> None:
    items = [Item(0, None, ("retry",)), Item(-1, None, ("cache",))]
    assert scoring.severity(items, {"retry": 0, "cache": -1}, BUGS).score == 0.0


# -- tradeoffs -----------------------------------------------------------------------------------


def test_tradeoffs_anchor_points() -> None:
    plain = [view(0, "Use a lock."), view(1, "Add the tenant to the key.")]
    assert scoring.tradeoffs(plain).score == 0.0
    passing = [view(0, "Use a lock, but it is slower.", tradeoff=0.3), view(1, "Fix the key.")]
    assert scoring.tradeoffs(passing).score == 25.0
    one = [view(0, "Add a lock; it adds contention.", tradeoff=0.9), view(1, "Fix the key.")]
    assert scoring.tradeoffs(one).score == 50.0
    several = [view(0, "a", tradeoff=0.9), view(1, "b", tradeoff=0.8), view(2, "c")]
    assert scoring.tradeoffs(several).score == 75.0
    consistent = [
        view(0, "Hotfix now, then refactor later; measure p99 first.", tradeoff=0.9),
        view(1, "Measure the hit rate before choosing the cache, then decide.", tradeoff=0.9),
        view(2, "A lock costs a little latency; measure contention first.", tradeoff=0.9),
    ]
    assert scoring.tradeoffs(consistent).score == 100.0


def test_tradeoff_reasons_are_quoted_when_read() -> None:
    """The words behind a score are looked for only when someone reads the reasons, and once."""
    calls: list[int] = []

    def reasons() -> list[Point]:
        calls.append(1)
        return [Point(50.0, "why")]

    lazy = scoring.DimensionScore(50.0, reasons)
    assert calls == []
    assert lazy.points == lazy.points == [Point(50.0, "why")]
    assert calls == [1]
    one = scoring.tradeoffs([view(0, "Add a lock; it adds contention.", tradeoff=0.9)])
    assert "adds contention" in one.points[0].quote


def test_rewrite_scores_zero_tradeoffs() -> None:
    assert scoring.tradeoffs([view(0, "x", tradeoff=0.9)], rewrite=True).score == 0.0


# -- tool taste ----------------------------------------------------------------------------------


def test_tool_taste_anchor_points() -> None:
    assert scoring.tool_taste([view(0, "Add a lock.")]).score == 75.0
    taste = [view(0, "The provider registry is unnecessary abstraction for one provider.")]
    assert scoring.tool_taste(taste).score == 100.0
    framework = [view(0, "Use LangChain for the prompt.", flag="framework"), view(1, "Fix it.")]
    assert scoring.tool_taste(framework).score == 50.0
    two = [view(0, "Use LangChain.", flag="framework"), view(1, "Add Kafka.", flag="framework")]
    assert scoring.tool_taste(two).score == 25.0
    styles = [view(i, "rename this", kind="style") for i in range(4)]
    assert scoring.tool_taste(styles).score == 25.0
    heavy_style = [
        *(view(i, "nit", kind="style") for i in range(3)),
        *(view(i, "bug") for i in range(3, 7)),
    ]
    assert scoring.tool_taste(heavy_style).score == 50.0
    rewrite = [view(0, "Rewrite the whole thing on LangChain.", flag="rewrite")]
    assert scoring.tool_taste(rewrite).score == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "nit: AgentFactory/AgentRegistry for two agents is a lot of ceremony, a dict would do",
        "do we need a provider registry for one provider?",
        "ABC + registry for a single backoff impl, a function is enough",
        "Registry with one entry. Inject the policy.",
        "AgentRegistry/AgentFactory: two agents, two hard-coded kinds. a dict literal is plenty",
        "the factory/registry layer doesn't earn its keep with two agents",
    ],
)
def test_terse_remarks_naming_a_needless_abstraction_show_taste(text: str) -> None:
    result = scoring.tool_taste([view(0, text, kind="suggestion")])
    assert result.score == 100.0
    quoted = (result.points[0].quote or "").lower()
    assert any(word in quoted for word in ("regist", "factor", "abc")), quoted


@pytest.mark.parametrize(
    "text",
    [
        "Really like the registry + factory pattern here, super clean and extensible!",
        "HashMap in a static registry is not thread safe",
        "`ProrationPolicies` could be a Spring @Component map so new strategies get registered.",
        "missing type hints in register_provider",
        "The result is satisfactory; drop the debug print.",
        # The construct and the judgement are in different paragraphs: two remarks.
        "The registry is populated at import time.\n\nSeparately, drop the unused import.",
    ],
)
def test_abstraction_mentioned_without_calling_it_needless_is_no_taste(text: str) -> None:
    assert scoring.tool_taste([view(0, text, kind="suggestion")]).score == 75.0


def test_several_heavy_tools_in_one_comment_are_several_suggestions() -> None:
    both = [view(0, "Put Kafka + Celery in front of the webhook.", flag="framework")]
    assert scoring.disproportionate(both) == 2
    assert scoring.tool_taste(both).score == 25.0
    one = [view(0, "Move this to Temporal.", flag="framework"), view(1, "Fix the key.")]
    assert scoring.tool_taste(one).score == 50.0
    # A flagged comment naming no listed tool is one suggestion; a summary repeating a comment's
    # tool adds nothing, a summary naming a new one adds it.
    unnamed = view(0, "Run this as its own service behind a queue.", flag="framework")
    assert scoring.disproportionate([unnamed]) == 1
    repeat = view(-1, "As said, Kafka would fix this.", flag="framework")
    kafka = view(0, "Use Kafka here.", flag="framework")
    assert scoring.disproportionate([kafka, repeat]) == 1
    assert scoring.disproportionate([kafka, view(-1, "And Celery.", flag="framework")]) == 2
    assert scoring.disproportionate([view(-1, "Add a service.", flag="framework")]) == 1


def test_small_standard_library_is_proportionate() -> None:
    assert scoring.tool_taste([view(0, "Use tenacity for backoff with jitter.")]).score == 75.0


# -- red flags -----------------------------------------------------------------------------------


def test_red_flags_carry_their_evidence() -> None:
    views = [
        view(0, "Honestly we should rewrite this from scratch.", flag="rewrite"),
        view(1, "Put the prompts in LangChain chains.", flag="framework"),
        view(2, "What traffic does this see?", kind="question"),
    ]
    flags = scoring.red_flags(views, found_any=True, asked_question=True)
    assert [(f.kind, f.comment) for f in flags] == [("rewrite", 0), ("framework", 1)]
    assert "rewrite this from scratch" in flags[0].evidence
    assert "LangChain" in flags[1].evidence


def test_low_confidence_flags_are_not_raised() -> None:
    views = [view(0, "rewrite the loop", flag="rewrite", flag_confidence=0.2)]
    assert scoring.red_flags(views, found_any=True, asked_question=True) == []


def test_style_only_and_no_questions() -> None:
    views = [view(0, "rename x", kind="style"), view(1, "add type hints", kind="style")]
    flags = scoring.red_flags(views, found_any=False, asked_question=False)
    assert [(f.kind, f.comment) for f in flags] == [("style_only", -1), ("no_questions", -1)]
    assert scoring.red_flags(views, found_any=True, asked_question=True) == []


def test_priority_statements() -> None:
    assert scoring.has_priority_statement("Fix the cache key first, then the retry.")
    assert scoring.has_priority_statement("1. cache key\n2. retry")
    assert not scoring.has_priority_statement("Looks fine overall.")


def test_total_is_the_rubric_weighted_sum() -> None:
    dims = {"detection": 100.0, "severity": 50.0, "tradeoffs": 0.0, "tool_taste": 75.0}
    assert Rubric().total(dims) == pytest.approx(30 + 12.5 + 0 + 15)
    custom = Rubric(detection=50, severity=50, tradeoffs=0, tool_taste=0)
    assert custom.total(dims) == pytest.approx(75.0)


def test_every_learned_level_signal_is_described_in_words() -> None:
    names = (*scoring.TRADEOFF_FEATURES, *scoring.TASTE_FEATURES)
    assert set(names) == set(scoring.COUNT_WORDS) | set(scoring.SHARE_WORDS)
    words = scoring.describe_signals(
        scoring.TRADEOFF_FEATURES, [1.0, 0.25, 0.0, 2.0, 0.0, 0.21, 0.62, 0.0, 4.0]
    )
    assert words == (
        "1 fix weighed against a cost or condition; 25% of comments weigh a fix; "
        "2 weighed fixes say what to measure first; comments weigh a tradeoff with likelihood "
        "21% on average; the strongest tradeoff comment has likelihood 62%; "
        "4 comments report a problem"
    )
    assert scoring.describe_signals(scoring.TASTE_FEATURES, [0.0] * 7) == "no signal"
