"""Try the grader on sample reviews, and the key lint's synthetic probes."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.assessments.models import AssessmentVersion
from app.authoring import trial
from app.users.models import Role
from grading import scoring
from tests.web.factories import DEFAULT_ASSESSMENT, assessment_version, make_user, sign_in

GOOD_COMMENT = {
    "file": "client.py",
    "line": 72,
    "end_line": 74,
    "severity": "critical",
    "body": "The cache key only hashes the messages and ignores model, temperature and "
    "max_tokens, so a gw-large request can be served the cached gw-small answer.",
}


def _url(version: AssessmentVersion, page: str) -> str:
    return f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/{version.number}/{page}"


def _review(review_id: str, *comments: dict[str, object]) -> dict[str, object]:
    return {"id": review_id, "assessment": DEFAULT_ASSESSMENT, "comments": list(comments)}


def test_a_pasted_review_is_graded_with_the_evidence_a_grader_sees(
    client: TestClient,
    session: Session,
    author_csrf: str,
) -> None:
    version = assessment_version(session)
    assert client.get(_url(version, "try")).status_code == 200
    pasted = json.dumps(_review("r-good", GOOD_COMMENT), indent=2)
    response = client.post(
        _url(version, "try"), data={"csrf_token": author_csrf, "reviews": pasted}
    )
    assert response.status_code == 200
    page = response.text
    assert "1 review graded" in page
    assert "cache-key-ignores-params" in page
    assert re.search(r'class="trial-total">\d+\.\d</strong>', page)
    for dimension in ("detection", "severity", "tradeoffs", "tool_taste"):
        assert f"<td>{dimension}</td>" in page
    assert "confidence 0." in page or "confidence 1." in page
    # The pasted text stays in the box to edit and try again.
    assert "r-good" in page and "&#34;id&#34;" in page


def test_a_batch_reports_each_bad_line_with_its_field_and_grades_the_rest(
    client: TestClient,
    session: Session,
    author_csrf: str,
) -> None:
    version = assessment_version(session)
    lines = [
        json.dumps(_review("r-1", GOOD_COMMENT)),
        "{not json",
        json.dumps(_review("r-3", {"body": "x", "line": "seventy"})),
        json.dumps({"id": "r-4", "assessment": "docs-rag", "comments": []}),
        "",
        json.dumps(_review("r-6", {"body": "Looks fine to me.", "severity": "nit"})),
    ]
    response = client.post(
        _url(version, "try"),
        data={"csrf_token": author_csrf},
        files={"batch": ("sample.jsonl", "\n".join(lines).encode(), "application/jsonl")},
    )
    assert response.status_code == 200
    page = response.text
    assert "3 problems in the input" in page
    assert "sample.jsonl:2: invalid JSON" in page
    assert "sample.jsonl:3: comments[0].line: must be a whole line number" in page
    assert "sample.jsonl:4: assessment: this review is of &#39;docs-rag&#39;" in page
    assert "2 reviews graded" in page
    assert "r-1" in page and "r-6" in page


def test_input_that_cannot_be_read_is_refused_with_a_reason(
    client: TestClient,
    session: Session,
    author_csrf: str,
) -> None:
    version = assessment_version(session)
    empty = client.post(_url(version, "try"), data={"csrf_token": author_csrf, "reviews": "  "})
    assert empty.status_code == 422
    assert "pasted: nothing to grade: the input is empty" in empty.text
    binary = client.post(
        _url(version, "try"),
        data={"csrf_token": author_csrf},
        files={"batch": ("b.jsonl", b"\xff\xfe\x00", "application/octet-stream")},
    )
    assert binary.status_code == 422
    assert "b.jsonl: not UTF-8 text (byte 0)" in binary.text
    big = b"{}\n" * (trial.MAX_UPLOAD_BYTES // 3 + 1)
    too_big = client.post(
        _url(version, "try"),
        data={"csrf_token": author_csrf},
        files={"batch": ("big.jsonl", big, "application/jsonl")},
    )
    assert too_big.status_code == 413
    assert "big.jsonl: larger than" in too_big.text


def test_parse_reviews_reads_one_object_over_several_lines_at_its_first_line() -> None:
    text = "\n\n" + json.dumps(_review("r-x", {"body": "hello"}), indent=2)
    parsed = trial.parse_reviews(text, name="pasted", slug=DEFAULT_ASSESSMENT)
    assert parsed.problems == []
    assert [(line, r.id) for line, r in parsed.reviews] == [(3, "r-x")]
    missing = trial.parse_reviews('{"assessment": "x"}', name="pasted", slug="x")
    assert [str(p) for p in missing.problems] == ["pasted:1: id: required: a non-empty string"]


def test_key_lint_probes_every_bug_three_ways(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    version = assessment_version(session)
    lints = trial.lint_key(version)
    assert [lint.key for lint in lints] == [
        b.key for b in sorted(version.bugs, key=lambda b: (b.rank, b.key))
    ]
    for lint in lints:
        kinds = [p.kind for p in lint.probes]
        assert kinds == ["on_lines", "off_lines", "wrong_cause"]
        on, off, wrong = lint.probes
        bug = next(b for b in version.bugs if b.key == lint.key)
        assert (on.comment.line, on.comment.end_line) == tuple(bug.lines[0])
        assert off.comment.line is None or not any(
            a <= off.comment.line <= b
            for item in [*version.bugs, *version.decoys]
            if item.file == off.comment.file
            for a, b in item.lines
        )
        assert wrong.comment.body == trial.WRONG_CAUSE
        # A warning is given exactly when a probe went against expectation.
        assert bool(lint.warnings) == (not all(p.as_expected for p in lint.probes))
    page = client.get(_url(version, "lint"))
    assert page.status_code == 200
    for lint in lints:
        assert f'id="lint-{lint.key}"' in page.text


def test_key_lint_warns_when_a_wrong_cause_earns_the_bug(session: Session) -> None:
    version = assessment_version(session)
    bug = version.bugs[0]
    before = next(item for item in trial.lint_key(version) if item.key == bug.key)
    assert not before.probes[2].credited
    # A key worded like a style remark credits a style remark on its lines.
    bug.title = "Names on these lines are hard to follow"
    bug.description = "The variable names are hard to follow; renaming would make the intent clear."
    bug.phrases = ["renaming the variables would make the intent clearer"]
    session.flush()
    after = next(item for item in trial.lint_key(version) if item.key == bug.key)
    assert after.probes[2].credited
    assert any("wrong cause" in w for w in after.warnings)


def test_the_tradeoffs_explanation_is_in_words_not_model_signal_names(
    client: TestClient, session: Session, author_csrf: str
) -> None:
    version = assessment_version(session)
    weighed = {
        **GOOD_COMMENT,
        "body": GOOD_COMMENT["body"] + " Adding the parameters to the key costs some hit rate, "
        "so measure the hit rate before and after; fix this first, then the retry.",
    }
    pasted = json.dumps(_review("r-tradeoff", weighed))
    page = client.post(_url(version, "try"), data={"csrf_token": author_csrf, "reviews": pasted})
    row = re.search(r"<tr><td>tradeoffs</td>(.*?)</tr>", page.text, re.S)
    assert row, page.text
    reasons = row.group(1)
    assert "weighs a cost or condition (likelihood" in reasons
    for name in (*scoring.TRADEOFF_FEATURES, *scoring.TASTE_FEATURES):
        if "_" in name:
            assert name not in page.text
    assert "p=0." not in reasons


def test_a_review_typed_into_rows_is_graded_in_the_order_typed(
    client: TestClient, session: Session, author_csrf: str
) -> None:
    version = assessment_version(session)
    page = client.get(_url(version, "try")).text
    assert 'id="trial-form-rows"' in page and 'name="body"' in page
    rows = {
        "csrf_token": author_csrf,
        "file": ["client.py", "client.py", "client.py"],
        "line": ["72", "", ""],
        "severity": ["critical", "", ""],
        "body": [GOOD_COMMENT["body"], "", ""],
        "summary": "Cache first.",
    }
    response = client.post(_url(version, "try/form"), data=rows)
    assert response.status_code == 200, response.text
    assert "1 review graded" in response.text
    assert "cache-key-ignores-params" in response.text
    # What was typed stays in the rows to edit and try again.
    assert "Cache first." in response.text and 'value="72"' in response.text


def test_a_typed_row_with_a_bad_line_is_named_and_kept(
    client: TestClient, session: Session, author_csrf: str
) -> None:
    version = assessment_version(session)
    rows = {
        "csrf_token": author_csrf,
        "file": ["client.py", "client.py"],
        "line": ["72", "seventy"],
        "severity": ["", "bogus"],
        "body": ["The cache key ignores the model.", "And this."],
    }
    response = client.post(_url(version, "try/form"), data=rows)
    assert response.status_code == 422
    assert "comments[1]" in response.text
    assert "seventy" in response.text and "The cache key ignores the model." in response.text
    assert "0 reviews graded" in response.text


def test_form_rows_skip_empty_rows_and_keep_the_typed_order() -> None:
    rows = trial.form_rows(
        ["a.py", "a.py", "b.py"], ["3", "", "9"], ["major", "", ""], ["first", "", "second"]
    )
    assert [r.body for r in rows] == ["first", "second"]
    assert rows[1].as_comment() == {"file": "b.py", "line": 9, "severity": None, "body": "second"}
