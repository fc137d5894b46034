"""The whole pipeline on hand-built reviews: output format, edge cases, another language."""

from __future__ import annotations

import json

import pytest

from grading import AnswerKey, Assessment, Grade, Grader, parse_review
from grading.training import Gold, _gold
from tests.grading.conftest import GO_REVIEWS, grade

RACE = (
    "`Allow` reads and writes the s.windows map from every request goroutine without a "
    "sync.Mutex: a data race, and Go crashes with 'fatal error: concurrent map writes' "
    "under load."
)
OFF_BY_ONE = (
    "Off by one: w.count is incremented before the check and compared with <, so a "
    "free customer gets 59 requests a minute instead of 60. Use <=."
)


def found(g: Grade) -> set[str]:
    return {m.bug for m in g.matches}


def test_score_has_exactly_the_format_4_fields(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 38, "end_line": 43, "severity": "critical", "body": RACE},
        {"body": "How many customers are active at peak?"},
    )
    out = g.to_dict()
    assert list(out) == [
        "id",
        "total",
        "dimensions",
        "matches",
        "red_flags",
        "comments",
        "near_misses",
        "false_alarms",
        "needs_review",
    ]
    assert list(out["dimensions"]) == ["detection", "severity", "tradeoffs", "tool_taste"]
    assert out["matches"][0]["bug"] == "map-race" and out["matches"][0]["comment"] == 0
    assert 0.0 <= out["matches"][0]["confidence"] <= 1.0
    assert [c["kind"] for c in out["comments"]] == ["defect", "question"]
    assert set(out["comments"][0]) == {"kind", "confidence", "tradeoff"}
    json.dumps(out)
    dims = out["dimensions"]
    weighted = (
        30 * dims["detection"]
        + 25 * dims["severity"]
        + 25 * dims["tradeoffs"]
        + 20 * dims["tool_taste"]
    ) / 100
    assert out["total"] == pytest.approx(weighted, abs=0.1)
    assert "evidence" not in out
    assert "evidence" in g.to_dict(explain=True)


def test_evidence_reads_like_a_grader_would_write_it(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(grader, go_assessment, go_key, {"file": "quota.go", "line": 40, "body": RACE})
    explanation = g.evidence.matches[0].explanation
    assert explanation.startswith("comment 1 points at quota.go:40, inside the bug's lines")
    assert "shares" in explanation and "'mutex'" in explanation
    assert "windows" in explanation  # an identifier from the bug's own code
    evidence = g.to_dict(explain=True)["evidence"]
    assert evidence["dimensions"]["detection"]["points"][0]["comment"] == 0
    assert evidence["matches"][0]["signals"]
    # The flag is shown for a grader to confirm; a sure one does not route the review.
    assert [f["kind"] for f in evidence["red_flags"]] == ["no_questions"]
    assert "asks no clarifying question" in evidence["red_flags"][0]["explanation"]
    assert not any("no_questions" in r for r in evidence["needs_review_because"])


def test_many_comments_on_one_bug_count_once(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 40, "body": RACE},
        {"file": "quota.go", "line": 19, "body": RACE},
    )
    assert [(m.bug, m.comment) for m in g.matches] == [("map-race", 0)]
    assert g.dimension("detection") == 25.0


def test_one_comment_can_find_two_bugs(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 38, "end_line": 44, "body": RACE + "\n\nAlso: " + OFF_BY_ONE},
    )
    assert found(g) == {"map-race", "off-by-one-limit"}
    assert g.dimension("detection") == 75.0


def test_right_lines_wrong_diagnosis_is_a_near_miss(
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
            "severity": "major",
            "body": "The window length is hard-coded to `time.Minute` here, which is wrong "
            "for plans billed per hour.",
        },
    )
    assert g.matches == ()
    assert ("map-race", 0, "misdiagnosed") in {(n.bug, n.comment, n.kind) for n in g.near_misses}
    # A readability remark on the same lines diagnoses nothing: no near miss (RUBRIC: a near
    # miss is the right place with the wrong cause).
    nit = {"file": "quota.go", "line": 38, "end_line": 43, "body": "hard to read, extract a helper"}
    assert grade(grader, go_assessment, go_key, nit).near_misses == ()


def test_calling_the_decoy_a_bug_is_a_false_alarm(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {
            "file": "quota.go",
            "line": 50,
            "end_line": 53,
            "severity": "critical",
            "body": "Errors from the plan store are swallowed and the request is allowed. "
            "This is a security bug: return 500 instead.",
        },
    )
    assert g.matches == ()
    assert [(f.decoy, f.comment) for f in g.false_alarms] == [("unknown-customer-allowed", 0)]


@pytest.mark.parametrize(
    "comments",
    [
        [],
        [{"body": ""}, {"body": "   "}],
        [{"file": "nope/missing.go", "line": 3, "body": "odd"}],
        [{"file": "quota.go", "line": 90000, "end_line": 1, "body": "past the end"}],
        [{"body": "x" * 50_000}],
        [{"body": "fine 🚀 — Ünïcödé ok, 很好, بخير"}],
    ],
)
def test_edge_cases_grade_without_error(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, comments: list[dict[str, object]]
) -> None:
    g = grade(grader, go_assessment, go_key, *comments)
    assert 0.0 <= g.total <= 100.0
    assert g.matches == ()
    assert len(g.comments) == len(comments)
    json.dumps(g.to_dict(explain=True), ensure_ascii=False)


def test_empty_review_scores_nothing_on_detection(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(grader, go_assessment, go_key)
    assert g.dimension("detection") == 0.0 and g.dimension("severity") == 0.0
    assert "no_questions" in {f.kind for f in g.red_flags}


def test_a_find_in_a_50000_character_comment_counts(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 40, "body": RACE + " " + "padding " * 6000},
    )
    assert found(g) == {"map-race"}


def test_all_caps_unicode_and_markdown_still_match(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 44, "body": OFF_BY_ONE.upper()},
        {
            "file": "quota.go",
            "line": 19,
            "body": "**Race** → `windows` is a plain map shared across goroutines:\n"
            "```go\ns.windows[customerID] = w\n```\nfatal error: concurrent map "
            "writes. Guard it with a `sync.Mutex`.",
        },
    )
    assert found(g) == {"off-by-one-limit", "map-race"}


def test_pasting_the_snippet_back_finds_nothing(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    snippet = go_assessment.files[0].text
    g = grade(
        grader,
        go_assessment,
        go_key,
        {"file": "quota.go", "line": 1, "end_line": 60, "body": snippet},
        summary=snippet,
    )
    assert g.matches == ()


def test_unanchored_summary_can_find_a_bug(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    g = grade(grader, go_assessment, go_key, {"body": "Nice and small."}, summary=RACE)
    assert [(m.bug, m.comment) for m in g.matches] == [("map-race", -1)]


def test_summary_priority_decides_severity(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    comments = (
        {"file": "quota.go", "line": 44, "severity": "critical", "body": OFF_BY_ONE},
        {"file": "quota.go", "line": 40, "severity": "minor", "body": RACE},
    )
    plain = grade(grader, go_assessment, go_key, *comments)
    assert plain.dimension("severity") == 0.0
    ordered = grade(
        grader,
        go_assessment,
        go_key,
        *comments,
        summary="Fix the concurrent map writes race first, then the off-by-one.",
    )
    assert ordered.dimension("severity") == 100.0


def test_grading_is_deterministic_and_batch_equals_single(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    reviews = [parse_review(json.loads(line)) for line in GO_REVIEWS.read_text().splitlines()]
    batch = grader.grade_many(reviews, go_assessment, go_key)
    single = [grader.grade(r, go_assessment, go_key) for r in reviews]
    assert [g.to_dict(explain=True) for g in batch] == [g.to_dict(explain=True) for g in single]


def test_unseen_go_assessment_is_graded_from_its_answer_key(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    # The grader was trained on the shipped (Python) assessments only.
    lines = [json.loads(line) for line in GO_REVIEWS.read_text().splitlines()]
    tp = fp = fn = 0
    for obj in lines:
        gold: Gold = _gold(obj["gold"])
        g = grader.grade(parse_review(obj), go_assessment, go_key)
        predicted, expected = found(g), {b for b, _ in gold.matches}
        tp += len(predicted & expected)
        fp += len(predicted - expected)
        fn += len(expected - predicted)
        assert abs(g.total - gold.total) <= 25, obj["id"]
    # Small, hand-labelled and unseen: a floor, not the evaluation figure.
    assert tp / (tp + fp) >= 0.85 and tp / (tp + fn) >= 0.75
