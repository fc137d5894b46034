"""A summary's order of work, read as a grader reads it.

RUBRIC.md: an explicit priority in the summary overrides severity labels and comment order.
Reviewers state it in a word per bug ("pagination first, then the zones"), far fewer words
than a find needs; the grader must still read which bug comes first.
"""

from __future__ import annotations

import pytest

from grading import Grader
from grading.grader import _mention_positions
from grading.index import build_index
from grading.types import SUMMARY
from grading.units import Unit
from tests.grading.conftest import grade, shipped

ZONES = {
    "file": "InvoiceRun.java",
    "line": 94,
    "body": "`to` is midnight UTC but `from` is midnight in the account's zone, so west of UTC "
    "the last hours of the month are never billed. Use `zone` for both.",
}
PAGING = {
    "file": "InvoiceRun.java",
    "line": 106,
    "body": "`page.size() <= PAGE_SIZE` is always true, so only the first page of usage is "
    "billed. Should be `<`.",
}


@pytest.mark.parametrize(
    "summary",
    [
        "Pagination first (largest money impact, every month), then the time zone window.",
        "Fix the pagination first and the zone window next.",
        "Most urgent: the paging loop in fetchUsage first; then the UTC window end.",
    ],
)
def test_a_priority_naming_each_bug_in_a_word_puts_the_first_named_first(
    grader: Grader, summary: str
) -> None:
    assessment, key = shipped("billing-proration")
    g = grade(grader, assessment, key, ZONES, PAGING, summary=summary)
    assert {m.bug for m in g.matches} == {"pagination-stops-after-first-page", "window-end-in-utc"}
    assert g.evidence.summary_priority[0] == "pagination-stops-after-first-page"


def test_a_word_of_one_bug_outside_an_order_of_work_names_nothing(grader: Grader) -> None:
    """ "window" is one bug's own word, but "the billing window looked odd" orders no work:
    the summary's other sentence orders it, and names no bug."""
    assessment, key = shipped("billing-proration")
    g = grade(
        grader,
        assessment,
        key,
        ZONES,
        PAGING,
        summary="Fix these before March. The billing window looked odd in our logs.",
    )
    assert "window-end-in-utc" not in g.evidence.summary_priority[:1]


def _placed(slug: str, sentence: str, *bugs: str) -> list[int]:
    """Where a summary sentence places each of `bugs`, named together, of a shipped key."""
    assessment, key = shipped(slug)
    index = build_index(assessment, key)
    ids = [b.id for b in index.bugs]
    named = [ids.index(b) for b in bugs]
    positions = _mention_positions(Unit(SUMMARY, sentence), index, named)
    return [positions[j] for j in named]


def test_a_word_two_named_bugs_share_places_neither() -> None:
    """ "cache key first, then stream retry": the retry bug's phrases say "cached" too, so
    "cache" places neither; "key" places the cache bug first."""
    cache, retry = _placed(
        "llm-gateway-client",
        "cache key first, then stream retry.",
        "cache-key-ignores-params",
        "stream-retry-duplicates",
    )
    assert cache < retry


def test_an_ordering_word_in_a_bugs_title_places_nothing() -> None:
    """ "fix order: the backfill, then the citations": "order" is in the citation bug's title
    ("rerank order"), but here it orders the work."""
    backfill, citations = _placed(
        "docs-rag",
        "Fix order: 1) the backfill tenant filter, 2) the citation list.",
        "backfill-drops-tenant",
        "citations-wrong-order",
    )
    assert backfill < citations


def test_a_bug_named_only_in_shared_words_comes_after_those_named_alone() -> None:
    lock, cancel = _placed(
        "agent-orchestrator",
        "memory lock -> per-session lock now, revisit condensing later",
        "memory-lock-across-llm-call",
        "pending-workers-not-cancelled",
    )
    assert lock < cancel
