"""Terse reviewers get credit: corrections on the exact line, with short and long keys.

RUBRIC.md: a find says what is wrong in a way an engineer could act on and points at the
code. A one-line correction on the bug's line ("`<=` not `<`") does both, whatever the length
of the comment or of the answer key. A comment on the right line with another cause is a near
miss, and a human looks at it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from grading import (
    AnswerKey,
    Assessment,
    Grader,
    LineRange,
)
from grading.corrections import (
    CORRECTION_RE,
    PROSE_IDENT_RE,
    PROSE_OPERATOR_RE,
    VAGUE_RE,
    _may_name_identifier,
    _may_name_operator,
    _prose_identifiers,
    asks_correction,
    code_tokens,
    drops_fix,
    is_bare_code,
    line_tokens,
    only_vague,
    reports_symptom,
    states_correction,
    writes_fix,
)
from grading.index import build_index
from grading.matching import F, unit_features
from grading.routing import routing_reasons
from grading.scoring import CommentView
from grading.synthetic import examples_of, parse_correction
from grading.text import find
from grading.types import COMMENT_KINDS, SUMMARY, CommentLabel, RedFlag
from grading.units import Unit
from tests.grading.conftest import grade, review, shipped, texts_of

LIMIT_LINE = 44  # `return w.count < limit, nil` in the Go fixture


def terse_key(key: AnswerKey) -> AnswerKey:
    """The fixture's key as a busy author writes it: one line per bug, no phrases."""
    one_line = {
        "map-race": ("Unlocked map", "`s.windows` written from every request goroutine"),
        "off-by-one-limit": ("Off by one", "`<` should be `<=`"),
        "windows-never-evicted": ("Leak", "windows never evicted"),
    }
    return replace(
        key,
        bugs=tuple(
            replace(b, title=one_line[b.id][0], description=one_line[b.id][1], phrases=())
            for b in key.bugs
        ),
    )


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("should be 16", {"16"}),
        ("`>=` not `>`", {">=", ">"}),
        ("use <= here, not <", {"<="}),
        ("off by one: `i < n - 1`", {"i", "<", "n", "-", "1"}),
        ("call decimal_to_any_base(num, 16)", {"decimal_to_any_base", "16"}),
        ("timeout is 0.5s, should be 30", {"0.5", "30"}),
        ("typo: should say suspended", set()),
    ],
)
def test_numbers_operators_and_identifiers_survive_tokenising(text: str, tokens: set[str]) -> None:
    assert set(code_tokens(text)) == tokens
    assert Unit(0, text).tokens == code_tokens(text)


def test_code_lines_keep_every_token() -> None:
    assert line_tokens("return w.count < limit, nil") == {
        "return",
        "w",
        ".",
        "count",
        "<",
        "limit",
        "nil",
    } - {"."}


@pytest.mark.parametrize(
    ("text", "states"),
    [
        ("should be 16", True),
        ("`>=` not `>`", True),
        ("typo: should say suspended", True),
        ("fetch doesn't reject on 500", True),
        ("```suggestion\n    while lo < hi:\n```", True),
        ("nice and compact", False),
        ("what is the expected traffic here?", False),
    ],
)
def test_correction_cues(text: str, states: bool) -> None:
    assert states_correction(text) is states


CUE_PIECES = [
    "Should",
    "not",
    "be",
    "has to be",
    "MUST  be",
    "instead",
    "of",
    "rather than",
    "`x`",
    "`",
    "->",
    "→",
    "```suggestion",
    "Typo",
    "forgot",
    "off-by-one",
    "off by",
    "Swapped",
    "reversed",
    "doesn't",
    "does not",
    "isn't",
    "breaks",
    "double count",
    "when",
    "the list",
    "is empty",
    "İ",  # lower-cases to two characters
    "K",  # the Kelvin sign folds to "k"
    "x",
    ".",
    "\n",
]


@settings(max_examples=400, deadline=None)
@given(texts_of(CUE_PIECES))
def test_correction_scan_agrees_with_the_pattern(text: str) -> None:
    """The alternative-by-alternative scan answers as one search of CORRECTION_RE does."""
    assert states_correction(text) is (CORRECTION_RE.search(text) is not None)


CODE_PIECES = [
    "a",
    "B",
    "snake_case",
    "_private",
    "camelCase",
    "Title",
    "call(",
    ")",
    "obj.attr",
    "end.",
    ". Next",
    "16",
    "0.5s",
    "v2",
    "<=",
    "<",
    ">",
    "==",
    "&&",
    "||",
    "!",
    "-",
    "`x`",
    "é_x",
    "İ",
    "\n",
]


@settings(max_examples=400, deadline=None)
@given(texts_of(CODE_PIECES))
def test_code_token_shortcuts_skip_only_scans_that_find_nothing(text: str) -> None:
    """The substring tests in front of the prose scans rule out only texts they cannot match."""
    if not _may_name_operator(text):
        assert PROSE_OPERATOR_RE.search(text) is None
    if not _may_name_identifier(text):
        assert PROSE_IDENT_RE.search(text) is None


@settings(max_examples=400, deadline=None)
@given(
    texts_of([*CODE_PIECES, "getX(", "a.b_c", "(x)", "é", "\u2003", "\x1c"], glues=(" ", "", "\t"))
)
def test_identifiers_read_word_by_word_are_those_of_the_whole_text(text: str) -> None:
    """Scanning only the words that can hold an identifier finds what one scan finds."""
    assert _prose_identifiers(text) == PROSE_IDENT_RE.findall(text)


VAGUE_PIECES = [
    "Looks",
    "looks",
    "SUS",
    "a bit",
    "weird",
    "could be",
    "Better",
    "be careful",
    "Double-Check",
    "not",
    "100 %",
    "Sure about",
    "something goes wrong",
    "needs some LOVE",
    "I don't like",
    "İ",
    "K",
    "x",
    "\n",
]


@settings(max_examples=400, deadline=None)
@given(texts_of(VAGUE_PIECES))
def test_vague_phrase_search_agrees_with_the_pattern(text: str) -> None:
    """The search on lower-cased text finds a phrase exactly when VAGUE_RE does."""
    assert (find(VAGUE_RE, text) is not None) is (VAGUE_RE.search(text) is not None)


@pytest.mark.parametrize("comment", ["`<=` not `<`", "should be <=", "off by one, should be `<=`"])
@pytest.mark.parametrize("key_length", ["full key", "terse key"])
def test_one_line_correction_on_the_exact_line_is_a_find(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, comment: str, key_length: str
) -> None:
    key = go_key if key_length == "full key" else terse_key(go_key)
    g = grade(grader, go_assessment, key, {"file": "quota.go", "line": LIMIT_LINE, "body": comment})
    assert [(m.bug, m.comment) for m in g.matches] == [("off-by-one-limit", 0)]
    assert g.dimension("detection") == 50.0  # the subtle bug weighs 2 of 4


@pytest.mark.parametrize(
    "comment", ["`<=`", "nit: `<=` here?", "```suggestion\n\treturn w.count <= limit, nil\n```"]
)
@pytest.mark.parametrize("key_length", ["full key", "terse key"])
def test_writing_the_keys_correction_on_the_line_is_a_sure_find(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, comment: str, key_length: str
) -> None:
    """Bare code, a nit or a suggestion block: the comment writes the key's own correction on
    the bug's line and nothing else new, so it is a find no human needs to confirm."""
    key = go_key if key_length == "full key" else terse_key(go_key)
    g = grade(grader, go_assessment, key, {"file": "quota.go", "line": LIMIT_LINE, "body": comment})
    assert [(m.bug, m.comment) for m in g.matches] == [("off-by-one-limit", 0)]
    assert g.matches[0].confidence >= grader.settings.uncertain[1]
    assert not any("off-by-one-limit" in r for r in g.evidence.review_reasons)


@pytest.mark.parametrize(
    ("tokens", "bare", "writes"),
    [
        ({">="}, True, True),  # the key's operator
        ({">=", "500"}, False, True),  # with a value the lines hold
        ({"depth", "<=", "0"}, True, False),  # another correction: `<=` is not the key's
        ({"memorystore"}, False, False),  # a name the key uses to say where, in prose
        ({"memorystore"}, True, True),  # the same name written as the fix
        ({"status", "500"}, True, False),  # only quotes the lines
    ],
)
def test_a_comment_writes_the_keys_fix_only_with_nothing_else_new(
    tokens: set[str], bare: bool, writes: bool
) -> None:
    lines = frozenset({"return", "status", ">", "500"})
    key_code = frozenset({">", ">=", "500", "status", "depth", "==", "0", "memorystore"})
    assert writes_fix(frozenset(tokens), lines, key_code, bare=bare) is writes


@pytest.mark.parametrize(
    ("suggested", "drops"),
    [
        ("return levenshtein(a.substring(1), b.substring(1));", True),  # drops the key's `1 +`
        ("return 2 + levenshtein(a.substring(1), b.substring(1));", False),  # adds a value
        ("return 1 + levenshtein(a.substring(1));", False),  # drops `b`, which the key never writes
        ("return 1 + levenshtein(a.substring(1), b.substring(1));", False),  # the line itself
        ("", False),  # a block that deletes the line says nothing a key can confirm
    ],
)
def test_a_suggestion_drops_the_keys_fix_only_when_it_drops_nothing_else(
    suggested: str, drops: bool
) -> None:
    replaced = line_tokens("return 1 + levenshtein(a.substring(1), b.substring(1));")
    key_code = line_tokens("1 + levenshtein(...)") | line_tokens("levenshtein(...)")
    assert drops_fix(line_tokens(suggested), replaced, frozenset(key_code)) is drops


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("`>= 500`", True),
        ("this: `cursor !== null`", True),
        ("```suggestion\n    } while (cursor !== null);\n```", True),
        ("should be >= 500", False),  # no code written as code
        ("`>= 500` here, half of the first attempts fail with a 500", False),
    ],
)
def test_bare_code_is_code_with_a_word_or_two(text: str, bare: bool) -> None:
    assert is_bare_code(text) is bare


@pytest.mark.parametrize("key_length", ["full key", "terse key"])
def test_right_line_wrong_cause_is_a_near_miss_that_needs_review(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, key_length: str
) -> None:
    key = go_key if key_length == "full key" else terse_key(go_key)
    words = "returning nil here hides the error from the caller"
    g = grade(grader, go_assessment, key, {"file": "quota.go", "line": LIMIT_LINE, "body": words})
    assert g.matches == ()
    assert ("off-by-one-limit", 0, "misdiagnosed") in {
        (n.bug, n.comment, n.kind) for n in g.near_misses
    }
    assert g.needs_review
    title = key.bug("off-by-one-limit").title  # type: ignore[union-attr]
    assert any(
        words in reason and title in reason and "comment 1" in reason
        for reason in g.evidence.review_reasons
    ), g.evidence.review_reasons


def test_a_sure_no_questions_flag_alone_does_not_need_review(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {
            "file": "quota.go",
            "line": 38,
            "end_line": 43,
            "severity": "critical",
            "body": "`Allow` writes `s.windows` from every request goroutine with no mutex: "
            "concurrent map writes crash the process under load. Guard it with a sync.Mutex.",
        },
        {
            "file": "quota.go",
            "line": LIMIT_LINE,
            "severity": "major",
            "body": "Off by one: count is incremented first, so `<` rejects the 60th request. "
            "Use `<=`.",
        },
    )
    assert [f.kind for f in g.red_flags] == ["no_questions"]
    assert not any("no_questions" in r for r in g.evidence.review_reasons)
    assert {m.bug for m in g.matches} == {"map-race", "off-by-one-limit"}
    assert all(m.confidence >= grader.settings.uncertain[1] for m in g.matches)
    assert not g.needs_review, g.evidence.review_reasons


def test_an_unsure_no_questions_flag_needs_review(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    # A comment that reads half like a question: the flag may be wrong, so a human decides.
    sure = replace(grader.settings, question_unsure=0.0)
    unsure = Grader(
        grader.classifier,
        grader.match_model,
        background=grader.background,
        settings=sure,
        tradeoff_model=grader.tradeoff_model,
        taste_model=grader.taste_model,
    )
    g = grade(unsure, go_assessment, go_key, {"file": "quota.go", "line": 10, "body": "ok"})
    assert "no_questions" in {f.kind for f in g.red_flags}
    assert any(r.startswith("red flag 'no_questions'") for r in g.evidence.review_reasons)
    assert g.needs_review


def test_synthetic_corrections_are_built_from_the_fix() -> None:
    correction = parse_correction(
        {
            "name": "knapsack",
            "language": "python",
            "file": "knapsack.py",
            "code": "def f(weight, j):\n    if weight < j:\n        return 1\n",
            "lines": [2, 2],
            "buggy": "if weight < j:",
            "fixed": "if weight <= j:",
        }
    )
    assessment, key, pairs = examples_of(correction)
    (bug,) = key.bugs
    assert bug.lines == (LineRange(2, 2),) and bug.phrases == ()
    assert bug.title == "Wrong operator"
    assert bug.description == "`if weight < j:` should be `if weight <= j:`"
    finds = [t for t, is_find in pairs if is_find]
    misses = [t for t, is_find in pairs if not is_find]
    assert "should be `<=`" in finds and "`<=` not `<`" in finds
    # A wrong correction on the right line is taught as not a find.
    assert any(t.startswith("should be `") and "<=" not in t for t in misses)
    assert assessment.files[0].name == "knapsack.py"


def test_a_bad_correction_record_names_its_field() -> None:
    from grading.errors import ReviewFormatError

    with pytest.raises(ReviewFormatError) as info:
        parse_correction(
            {
                "name": "x",
                "language": "python",
                "file": "x.py",
                "code": "a\n",
                "buggy": "a",
                "fixed": "b",
                "lines": [3, 3],
            }
        )
    assert info.value.field == "lines"


def test_summary_is_never_an_uncredited_comment(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(grader, go_assessment, go_key, summary="Looks fine to me.")
    assert not any(str(SUMMARY) in r for r in g.evidence.review_reasons)


def test_one_shared_common_word_carries_no_precision() -> None:
    """A comment of one common word the key uses ("off by one") shows little, not precision 1."""
    assessment, key = shipped("docs-rag")
    index = build_index(assessment, key, background={"one": 0.3})
    units = [Unit(0, "off by one"), Unit(1, "backfill query drops the tenant filter")]
    kinds = np.zeros((2, len(COMMENT_KINDS)))
    feats = unit_features(units, index, kinds)
    j = [b.id for b in index.bugs].index("backfill-drops-tenant")
    lone, stated = feats[0, j, F["description_precision"]], feats[1, j, F["description_precision"]]
    assert lone < 0.25 < stated


def test_a_bare_off_by_one_on_another_bugs_line_is_not_a_find(grader: Grader) -> None:
    """The key's long description uses "one" in passing; the comment names another defect.

    It raises a problem on the bug's lines without describing it, so a human looks.
    """
    assessment, key = shipped("docs-rag")
    g = grade(grader, assessment, key, {"file": "retrieve.py", "line": 61, "body": "off by one"})
    assert g.matches == ()
    assert g.needs_review
    assert any("backfill-drops-tenant" in r for r in g.evidence.review_reasons)


@pytest.mark.parametrize(
    "nit", ["nit: `w` is a poor name, call it `win`", "nice and compact", "could use a blank line"]
)
def test_a_nit_on_a_bugs_line_is_no_near_miss(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, nit: str
) -> None:
    """A naming remark or a style nit diagnoses nothing on the line: no human rescue needed."""
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "line": LIMIT_LINE, "body": nit})
    assert g.matches == ()
    assert g.near_misses == ()
    assert not any("not credited" in r for r in g.evidence.review_reasons)


@pytest.mark.parametrize(
    ("words", "cue"),
    [
        ("typo: the doc comment should say minute", states_correction),
        # A tester's "returns X but the doc says Y" names no cause, only what running shows.
        ("Allow(5) returns true on the 6th call but the doc comment says 5", reports_symptom),
    ],
)
def test_a_stated_problem_read_as_anything_still_routes(
    grader: Grader,
    go_assessment: Assessment,
    go_key: AnswerKey,
    words: str,
    cue: Callable[[str], bool],
) -> None:
    """Whatever the classifier takes it for, a comment stating a defect on the line is seen."""
    g = grade(
        grader, go_assessment, go_key, {"file": "quota.go", "line": LIMIT_LINE, "body": words}
    )
    assert cue(words)
    uncredited = [r for r in g.evidence.review_reasons if "not credited" in r]
    assert g.matches or (uncredited and g.needs_review)


def test_a_proposed_replacement_is_no_correction() -> None:
    """A framework proposal ("should be a Temporal workflow") words a replacement: no correction."""
    assessment, key = shipped("agent-orchestrator")
    index = build_index(assessment, key)
    text = "the fan-out should be a Temporal workflow instead"
    assert states_correction(text)
    units = [Unit(0, text)]
    kinds = np.zeros((1, len(COMMENT_KINDS)))
    plain = unit_features(units, index, kinds, np.array([[0.9, 0.05, 0.05]]))
    replacing = unit_features(units, index, kinds, np.array([[0.1, 0.1, 0.8]]))
    assert (plain[0, :, F["states_correction"]] == 1.0).all()
    assert (replacing[0, :, F["states_correction"]] == 0.0).all()
    assert (replacing[0, :, F["correction_precision"]] == 0.0).all()


@pytest.mark.parametrize(
    ("text", "vague"),
    [
        ("this lock looks sus", True),
        ("timeouts here are confusing", True),
        ("error handling in `stream()` is weird", True),
        ("accounting should be more robust", True),
        ("Retry handling could be improved here; retries in payment code are always tricky.", True),
        ("Double-check the time zone handling here, month boundaries are tricky.", True),
        (
            "I'm not 100% sure about the retry logic here, it might be worth double-checking "
            "which statuses we retry.",
            True,
        ),
        ("not entirely sure about the locking here", True),
        ("double-checked: `status > 500` skips a plain 500, should be `>=`", False),
        ("not sure about 408 here: it is a client error, it should not be retried", False),
        ("this is off by one", False),
        ("looks weird: should be `<=`", False),
        ("looks odd, the timeout is 0.5s", False),
        ("dict is not thread-safe, wrap access in a threading.Lock", False),
        ("this lock is useless, single event loop, nothing runs in parallel", False),
        (
            "this looks weird: the lock is held while we await the llm call, so every other "
            "session on the pod waits for the condense to finish",
            False,
        ),
    ],
)
def test_vague_unease_is_told_from_a_diagnosis(text: str, vague: bool) -> None:
    assert only_vague(text) is vague


@pytest.mark.parametrize(
    "body",
    [
        "rate limiting here is weird",
        "nit: `limit` -> `maxRequests`",
        "this should be a Redis rate limiter instead, use redis-cell",
    ],
)
def test_unease_a_labelled_nit_or_a_framework_proposal_on_a_bugs_line_needs_no_rescue(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, body: str
) -> None:
    """None of them says what is wrong with the line: no near miss, nothing for a human to
    credit, whatever cue words ("instead", "->") they use."""
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "line": LIMIT_LINE, "body": body})
    assert g.matches == ()
    assert g.near_misses == ()
    assert not any("not credited" in r for r in g.evidence.review_reasons)


def test_unease_on_a_bugs_line_finds_nothing(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    """RUBRIC.md: a find says what is wrong; "looks sus" on the right line says nothing."""
    index = grader.index(go_assessment, go_key)
    body = "the limit check here looks sus"
    (analysis,) = grader.analyse(
        [review({"file": "quota.go", "line": LIMIT_LINE, "body": body})], index
    )
    assert analysis.units[0].vague
    assert (analysis.proba == 0.0).all()
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "line": LIMIT_LINE, "body": body})
    assert g.matches == ()
    assert not g.needs_review


def test_a_find_that_only_asks_needs_review(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    """A pure question credited with a find may or may not state the defect: a human says."""
    body = "Is the comparison with `limit` meant to let the last allowed request through?"
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "line": LIMIT_LINE, "body": body})
    assert "off-by-one-limit" in {m.bug for m in g.matches}
    assert g.comments[0].kind == "question"
    assert g.needs_review
    assert any("only by asking" in r for r in g.evidence.review_reasons)
    stated = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": LIMIT_LINE, "body": "`<` should be `<=`"},
    )
    assert not any("only by asking" in r for r in stated.evidence.review_reasons)


@pytest.mark.parametrize(("confidence", "routes"), [(0.55, True), (0.65, False)])
def test_a_framework_flag_routes_only_under_the_calibrated_confidence(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, confidence: float, routes: bool
) -> None:
    """Held-out framework and rewrite flags raised at 0.6 or more were right: shown, not routed."""
    index = grader.index(go_assessment, go_key)
    empty = review(assessment=go_assessment.slug)
    (analysis,) = grader.analyse([empty], index)
    text = "move this to Kong"
    view = CommentView(0, text, "suggestion", 0.0, "framework", confidence)
    reasons = routing_reasons(
        empty,
        analysis,
        index,
        grader.settings,
        found={},
        labels=[],
        flags=[RedFlag("framework", 0, text)],
        views=[view],
        near_misses=[],
        total=20.0,
    )
    assert any(r.startswith("red flag 'framework'") for r in reasons) is routes


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("should this be `zone` too?", True),
        ("shouldn't `t` be now? retries past 5 min fail verification", True),
        ("should the cache key include the model? otherwise gw-small and gw-large collide", True),
        ("the second clear() deletes the first request's results, no?", True),
        ("there's one Orchestrator per process right? so concurrent runs share it", True),
        ("what's the intent of carrying `current[-1:]`? overlap?", False),
        ("is 408 really retryable for partners or just for us?", False),
        ("is it intended that the key is just the messages?", False),
        ("What happens to the tasks in `pending` after the budget runs out?", False),
        ("should we retry here?", False),
        ("do we retry a 408 or no?", False),
        ("the key should be `zone`", False),  # no question: states_correction's business
    ],
)
def test_a_correction_put_as_a_question_is_told_from_an_open_question(
    text: str, asks: bool
) -> None:
    assert asks_correction(text) is asks


def _reasons_for_one_find(
    grader: Grader,
    assessment: Assessment,
    key: AnswerKey,
    comment: dict[str, object],
    bug: str,
    *,
    label: CommentLabel,
    confidence: float | None = None,
) -> list[str]:
    """Routing reasons for a review of one comment credited with `bug`, read as `label`;
    `confidence` puts the matcher's confidence in it where a test needs it."""
    index = grader.index(assessment, key)
    one = review(comment, assessment=assessment.slug)
    (analysis,) = grader.analyse([one], index)
    if confidence is not None:
        analysis.proba[:, [b.id for b in index.bugs].index(bug)] = confidence
    return routing_reasons(
        one,
        analysis,
        index,
        grader.settings,
        found={bug: 0},
        labels=[label],
        flags=[],
        views=[],
        near_misses=[],
        total=20.0,
    )


@pytest.mark.parametrize(
    ("body", "only_asks"),
    [
        ("should this be `<=`?", False),
        ("the 60th request in a minute gets rejected here, no?", False),
        ("Is the comparison with `limit` meant to let the last allowed request through?", True),
    ],
)
def test_a_question_that_states_the_correction_does_not_find_only_by_asking(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, body: str, only_asks: bool
) -> None:
    """Terse reviewers put a correction as a question; an open question still goes to a human."""
    comment = {"file": "quota.go", "line": LIMIT_LINE, "body": body}
    reasons = _reasons_for_one_find(
        grader,
        go_assessment,
        go_key,
        comment,
        "off-by-one-limit",
        label=CommentLabel("question", 0.95, False),
    )
    assert any("only by asking" in r for r in reasons) is only_asks, reasons


@pytest.mark.parametrize(
    ("comment", "uncertain"),
    [
        # On the line, a stated correction naming the key's new value (`<=`): the key's fix.
        ({"file": "quota.go", "line": LIMIT_LINE, "body": "`<` should be `<=`"}, False),
        ({"file": "quota.go", "line": LIMIT_LINE, "body": "should this be `<=`?"}, False),
        # The value alone states no correction; a correction elsewhere is about other code.
        ({"file": "quota.go", "line": LIMIT_LINE, "body": "`<=`"}, True),
        ({"file": "quota.go", "line": 10, "body": "`<` should be `<=`"}, True),
        ({"file": "quota.go", "line": LIMIT_LINE, "body": "off by one, one too many"}, True),
    ],
)
def test_a_middling_find_that_writes_the_keys_fix_on_its_line_is_not_uncertain(
    grader: Grader,
    go_assessment: Assessment,
    go_key: AnswerKey,
    comment: dict[str, object],
    uncertain: bool,
) -> None:
    """Whatever the matcher's confidence in it, a one-line find that writes the key's own fix
    on the bug's lines is not in doubt; any other find in the uncertain band still is."""
    reasons = _reasons_for_one_find(
        grader,
        go_assessment,
        go_key,
        comment,
        "off-by-one-limit",
        label=CommentLabel("defect", 0.9, False),
        confidence=0.6,  # a find, inside the uncertain band
    )
    assert any(r.startswith("uncertain match: 'off-by-one-limit'") for r in reasons) is uncertain


def test_a_wrong_correction_naming_a_number_of_the_keys_prose_stays_uncertain(
    grader: Grader,
) -> None:
    """The key's prose says "1,000 records"; a wrong fix naming `1` writes nothing of its code."""
    assessment, key = shipped("billing-proration")
    body = "off by one: `page.get(page.size() - 1)` should be `page.get(page.size())`"
    reasons = _reasons_for_one_find(
        grader,
        assessment,
        key,
        {"file": "InvoiceRun.java", "line": 108, "body": body},
        "pagination-stops-after-first-page",
        label=CommentLabel("defect", 0.9, False),
        confidence=0.6,
    )
    uncertain = "uncertain match: 'pagination-stops-after-first-page'"
    assert any(r.startswith(uncertain) for r in reasons), reasons


def test_diagnosis_cover_reads_the_titles_cause_not_the_codes_words() -> None:
    """On the lines, naming the title's cause ("never cancelled") is a diagnosis; repeating the
    code's words (`asyncio.wait`, budget, timeout) with another cause is not."""
    assessment, key = shipped("agent-orchestrator")
    index = build_index(assessment, key)
    j = [b.id for b in index.bugs].index("pending-workers-not-cancelled")
    units = [
        Unit(0, "the pending workers are never cancelled when the budget runs out"),
        Unit(1, "`asyncio.wait(..., timeout=...)` raises `TimeoutError` when the budget is spent"),
    ]
    feats = unit_features(units, index, np.zeros((2, len(COMMENT_KINDS))))
    cause, other = feats[:, j, F["diagnosis_cover"]]
    assert cause > 0.5 > other == 0.0


def test_a_title_naming_only_code_is_all_diagnosis() -> None:
    """A one-line title in the code's own words still has a cause to cover."""
    assessment, key = shipped("agent-orchestrator")
    bug = next(b for b in key.bugs if b.id == "pending-workers-not-cancelled")
    terse = replace(
        key, bugs=tuple(replace(b, title="pending task") if b is bug else b for b in key.bugs)
    )
    index = build_index(assessment, terse)
    j = [b.id for b in index.bugs].index(bug.id)
    units = [Unit(0, "a pending task keeps running"), Unit(1, "use a dict here")]
    feats = unit_features(units, index, np.zeros((2, len(COMMENT_KINDS))))
    assert feats[0, j, F["diagnosis_cover"]] == 1.0
    assert feats[1, j, F["diagnosis_cover"]] == 0.0


def test_a_problem_raised_in_a_bugs_file_without_a_line_routes(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    """A tester's report names the file but no line ("crashes under load"): it may be a find
    the matcher cannot place, so a human looks, with the words beside the key."""
    words = "crashes under load, saw it twice in staging"
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "body": words})
    missed = {b.id for b in go_key.bugs} - {m.bug for m in g.matches}
    routed = [r for r in g.evidence.review_reasons if "with no line, in the file of" in r]
    assert g.needs_review
    assert {bug for bug in missed if any(f"'{bug}'" in r for r in routed)} == missed
    # Anywhere else it points at nothing of theirs.
    elsewhere = grade(grader, go_assessment, go_key, {"file": "other.go", "body": words})
    assert not any("in the file of" in r for r in elsewhere.evidence.review_reasons)


def test_a_symptom_reported_against_a_bugs_function_routes(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    """A tester leaves what they saw on the function's signature, or names the function in
    the summary: the faulty line inside it is not pointed at, so a human reads it beside the
    key; the same words on another function's code point at nothing of the bugs'."""
    words = "ran it: `Allow(id, t0)` gives `(false, nil)` forever once a minute has passed"
    holder = "reports a symptom of the function holding"
    on_signature = grade(
        grader, go_assessment, go_key, {"file": "quota.go", "line": 32, "body": words}
    )
    in_summary = grade(grader, go_assessment, go_key, summary=words)
    for g in (on_signature, in_summary):
        missed = {b.id for b in go_key.bugs} - {m.bug for m in g.matches}
        routed = [r for r in g.evidence.review_reasons if holder in r]
        assert missed and g.needs_review
        assert {bug for bug in missed if any(f"'{bug}'" in r for r in routed)} == missed
    assert in_summary.evidence.review_reasons[0].startswith("the summary ")
    unnamed = "ran it: the handler gives `(false, nil)` forever once a minute has passed"
    elsewhere = grade(
        grader, go_assessment, go_key, {"file": "quota.go", "line": 48, "body": unnamed}
    )
    assert not any(holder in r for r in elsewhere.evidence.review_reasons)


@pytest.mark.parametrize(
    ("line", "body", "routes"),
    [
        # Two lines below the check, saying what the key's title says: a find a line off.
        (LIMIT_LINE + 2, "this rejects the last allowed request, free plan gets 59 not 60", True),
        # Far from it, the same words are another place's business (a misplaced near miss).
        (LIMIT_LINE + 20, "this rejects the last allowed request, free plan gets 59 not 60", False),
        # Beside it, words about something else point at nothing of this bug's.
        (LIMIT_LINE + 2, "this error message leaks the customer id", False),
    ],
)
def test_a_problem_described_a_few_lines_from_a_bug_routes(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, line: int, body: str, routes: bool
) -> None:
    """A reviewer anchors a line or two off and says what the key says: if the matcher does
    not credit it, a human reads it beside the key rather than nobody."""
    index = grader.index(go_assessment, go_key)
    one = review({"file": "quota.go", "line": line, "body": body}, assessment=go_assessment.slug)
    (analysis,) = grader.analyse([one], index)
    analysis.proba[:] = 0.0  # credited with nothing
    reasons = routing_reasons(
        one,
        analysis,
        index,
        grader.settings,
        found={},
        labels=[CommentLabel("defect", 0.9, False)],
        flags=[],
        views=[],
        near_misses=[],
        total=20.0,
    )
    beside = [r for r in reasons if "a few lines from them, 'off-by-one-limit'" in r]
    assert bool(beside) is routes, reasons


def test_a_symptom_with_no_file_or_line_routes(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    """A tester's report left with no file and no line points nowhere the matcher can read:
    a human reads it beside the missed bug its words come nearest. A remark that reports no
    symptom is not sent for that."""
    words = "ran it for a minute: every request after that is refused, expected it to pass again"
    g = grade(grader, go_assessment, go_key, {"body": words})
    missed = {b.id for b in go_key.bugs} - {m.bug for m in g.matches}
    routed = [r for r in g.evidence.review_reasons if "with no file or line, nearest to" in r]
    assert missed and g.needs_review
    assert len(routed) == 1 and any(f"'{bug}'" in routed[0] for bug in missed)
    assert words in routed[0]
    remark = grade(grader, go_assessment, go_key, {"body": "this module could use more tests"})
    assert not any("with no file or line" in r for r in remark.evidence.review_reasons)


@pytest.mark.parametrize(
    ("text", "reports"),
    [
        ("`bitcount(7)` never comes back, had to ctrl-c it", True),
        ("find_in_sorted([1, 3], 2) -> RecursionError", True),
        ("to_base(31, 16) returns 'F1', docstring says '1F'", True),
        ("throws NullPointerException on an empty list", True),
        ('`levenshtein("abc", "abc")` = 3, expected 0', True),
        ('wrap("your code is 4821", 153) returns []', True),
        ('`"(()"` -> true', True),
        ('levenshtein("abc", "abc") is 3.', True),
        ("parse on a blank line returns an empty dict", True),
        ("`stream()` is 40+ lines, split it", False),
        ("```suggestion\nif lookup(key) == null {\n```", False),
        ("hangs under load", True),
        ("breaker went open anyway. expected it to open only on consecutive errors", True),
        ("is this expected to be None?", False),
        ("error handling reads well", False),
        ("it returns the ids in order", False),
        ("what happens when the upstream is slow?", False),
    ],
)
def test_a_testers_symptom_is_a_reported_problem(text: str, reports: bool) -> None:
    assert reports_symptom(text) is reports
