"""The grader on trial: grade sample reviews of a version, and probe its answer key.

Nothing here is stored: an author sees what a grader would see for a review, and how the
grader copes with each seeded bug as the key words it, before any candidate takes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.assessments import service as assessment_service
from app.assessments.models import AssessmentVersion
from app.scoring import service as scoring_service
from grading import Comment, Grade, Problem, Review, ReviewFormatError, parse_review

MAX_REVIEWS = 200
MAX_UPLOAD_BYTES = 2_000_000
# Problems listed one by one; past this a batch of bad lines is summed up in one more line,
# so a file of junk gets a readable answer instead of a page with a line per byte.
MAX_PROBLEMS = 100
# Empty comment rows the candidate-like form offers, and the most it reads back.
FORM_ROWS = 5
MAX_FORM_ROWS = 50


class TrialInputError(ValueError):
    """The input as a whole cannot be read (too large, not text)."""


@dataclass(frozen=True)
class ParsedReviews:
    """The reviews read from an author's input, and every problem with where it is."""

    reviews: list[tuple[int, Review]]  # (line, review)
    problems: list[Problem]


def _parse_line(name: str, number: int, obj: Any, slug: str) -> Review | Problem:
    try:
        review = parse_review(obj)
    except ReviewFormatError as exc:
        return Problem(name, number, exc.field, exc.message)
    if review.assessment != slug:
        return Problem(
            name,
            number,
            "assessment",
            f"this review is of '{review.assessment[:100]}', not '{slug}'",
        )
    return review


def parse_reviews(text: str, *, name: str, slug: str) -> ParsedReviews:
    """One review as a JSON object (over several lines or one), or JSON Lines of reviews."""
    if len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
        raise TrialInputError(
            f"{name}: {len(text.encode('utf-8')):,} bytes; at most {MAX_UPLOAD_BYTES:,} are read"
        )
    reviews: list[tuple[int, Review]] = []
    problems: list[Problem] = []
    stripped = text.strip()
    if not stripped:
        return ParsedReviews([], [Problem(name, None, "", "nothing to grade: the input is empty")])
    try:
        whole = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        # Not one JSON document (or nested past what the parser follows): read it line by
        # line, where each bad line is reported with its number.
        whole = None
    if isinstance(whole, dict):
        first = len(text[: text.index("{")].splitlines()) + 1 if "{" in text else 1
        parsed = _parse_line(name, first, whole, slug)
        if isinstance(parsed, Problem):
            return ParsedReviews([], [parsed])
        return ParsedReviews([(first, parsed)], [])
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(problems) >= MAX_PROBLEMS:
            rest = sum(1 for later in lines[number - 1 :] if later.strip())
            problems.append(
                Problem(
                    name,
                    number,
                    "",
                    f"{MAX_PROBLEMS} problems listed; the {rest:,} non-empty lines from here on "
                    "were not read: fix these and try again",
                )
            )
            break
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(name, number, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        except RecursionError:
            problems.append(Problem(name, number, "", "invalid JSON: nested too deeply"))
            continue
        parsed = _parse_line(name, number, obj, slug)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        elif len(reviews) >= MAX_REVIEWS:
            problems.append(
                Problem(
                    name, number, "", f"more than {MAX_REVIEWS} reviews; the rest were not read"
                )
            )
            break
        else:
            reviews.append((number, parsed))
    return ParsedReviews(reviews, problems)


@dataclass(frozen=True)
class FormRow:
    """One comment typed into the candidate-like form, as typed."""

    file: str = ""
    line: str = ""
    severity: str = ""
    body: str = ""

    def as_comment(self) -> dict[str, Any]:
        """The comment as FORMATS.md writes it; a line that is not a number is left for the
        review checks to name."""
        line: Any = self.line.strip()
        if line.isascii() and line.isdigit():
            line = int(line)
        return {
            "file": self.file,
            "line": line or None,
            "severity": self.severity or None,
            "body": self.body,
        }


def form_rows(
    files: Sequence[str], lines: Sequence[str], severities: Sequence[str], bodies: Sequence[str]
) -> list[FormRow]:
    """The form's rows that hold a comment, in the order typed (the order of urgency)."""
    rows = []
    for index, body in enumerate(bodies[:MAX_FORM_ROWS]):
        row = FormRow(
            files[index] if index < len(files) else "",
            lines[index] if index < len(lines) else "",
            severities[index] if index < len(severities) else "",
            body,
        )
        if row.body.strip() or row.line.strip():
            rows.append(row)
    return rows


def form_review(
    slug: str, rows: Sequence[FormRow], summary: str
) -> tuple[Review | None, list[Problem]]:
    """A review typed into the candidate-like form, checked as the JSON would be."""
    comments = [row.as_comment() for row in rows]
    obj = {"id": "typed review", "assessment": slug, "comments": comments, "summary": summary}
    parsed = _parse_line("form", 1, obj, slug)
    if isinstance(parsed, Problem):
        return None, [parsed]
    return parsed, []


@dataclass(frozen=True)
class GradedReview:
    """One review as a grader would see it after the auto-grader ran."""

    line: int
    review: Review
    grade: Grade
    evidence: dict[str, Any]

    def comment_text(self, index: int) -> str:
        """The words of comment `index`, or the summary for -1."""
        if index < 0:
            return self.review.summary
        if index < len(self.review.comments):
            return self.review.comments[index].body
        return ""


def grade_reviews(
    version: AssessmentVersion, reviews: Sequence[tuple[int, Review]]
) -> list[GradedReview]:
    """Grade sample reviews against a stored version, with the evidence a grader sees."""
    if not reviews:
        return []
    assessment, key = assessment_service.to_grading(version)
    grades = scoring_service.default_grader().grade_many([r for _, r in reviews], assessment, key)
    return [
        GradedReview(line, review, grade, dict(grade.evidence.to_dict()))
        for (line, review), grade in zip(reviews, grades, strict=True)
    ]


# -- key lint -------------------------------------------------------------------------------

WRONG_CAUSE = (
    "The names on these lines are hard to follow; renaming the variables would make the intent "
    "clearer."
)


@dataclass(frozen=True)
class Probe:
    """One synthetic comment about a bug, and how the grader took it."""

    kind: str  # on_lines | off_lines | wrong_cause
    comment: Comment
    credited: bool
    confidence: float | None
    near_miss: str | None

    @property
    def as_expected(self) -> bool:
        """Correct comments should be credited, a wrong cause should not."""
        return self.credited != (self.kind == "wrong_cause")


@dataclass(frozen=True)
class BugLint:
    """How the grader does on the probes for one seeded bug."""

    key: str
    title: str
    rank: int
    probes: list[Probe]

    @property
    def warnings(self) -> list[str]:
        """What an author should reword, in plain words."""
        by_kind = {p.kind: p for p in self.probes}
        out = []
        if not by_kind["on_lines"].credited:
            out.append(
                "A terse correct comment on the bug's lines is not credited: the title and "
                "phrases do not carry words a candidate would write; add phrases."
            )
        if by_kind["on_lines"].credited and not by_kind["off_lines"].credited:
            out.append(
                "The same comment away from the lines is not credited: credit rests on the "
                "line anchor, so a candidate who mis-clicks loses the bug; add phrases or "
                "identifiers from the code."
            )
        if by_kind["wrong_cause"].credited:
            out.append(
                "A comment with a wrong cause on the bug's lines is credited: the lines alone "
                "earn the bug; make the title and description say what is wrong."
            )
        return out


def _off_line(version: AssessmentVersion, file: str | None) -> int | None:
    """A line of `file` that no bug or decoy covers, as far as possible from all of them."""
    texts = {str(f["name"]): str(f["text"]) for f in version.files}
    if file not in texts:
        return None
    count = len(texts[file].splitlines())
    anchored = [(b.file, b.lines) for b in version.bugs]
    anchored += [(d.file, d.lines) for d in version.decoys]
    covered = [(a, b) for where, spans in anchored if where == file for a, b in spans]
    best, best_gap = None, -1
    for number in range(1, count + 1):
        gap = (
            min(
                (0 if a <= number <= b else min(abs(number - a), abs(number - b)))
                for a, b in covered
            )
            if covered
            else count
        )
        if gap > best_gap:
            best, best_gap = number, gap
    return best if best_gap > 0 else None


def lint_key(version: AssessmentVersion) -> list[BugLint]:
    """For each seeded bug, grade three synthetic comments and report what the grader did."""
    plans: list[tuple[str, str, Comment]] = []
    for bug in version.bugs:
        start, end = bug.lines[0] if bug.lines else (None, None)
        terse = bug.title.rstrip(".") + "."
        off = _off_line(version, bug.file)
        plans.append(
            (bug.key, "on_lines", Comment(body=terse, file=bug.file, line=start, end_line=end))
        )
        plans.append(
            (
                bug.key,
                "off_lines",
                Comment(body=terse, file=bug.file if off else None, line=off, end_line=off),
            )
        )
        plans.append(
            (
                bug.key,
                "wrong_cause",
                Comment(body=WRONG_CAUSE, file=bug.file, line=start, end_line=end),
            )
        )
    slug = version.assessment.slug
    reviews = [
        Review(id=f"probe-{key}-{kind}", assessment=slug, comments=(comment,), summary="")
        for key, kind, comment in plans
    ]
    if not reviews:
        return []
    assessment, answer_key = assessment_service.to_grading(version)
    grades = scoring_service.default_grader().grade_many(reviews, assessment, answer_key)
    probes: dict[str, list[Probe]] = {}
    for (key, kind, comment), grade in zip(plans, grades, strict=True):
        match = next((m for m in grade.matches if m.bug == key), None)
        near = next((n.kind for n in grade.near_misses if n.bug == key), None)
        probes.setdefault(key, []).append(
            Probe(kind, comment, match is not None, match.confidence if match else None, near)
        )
    return [
        BugLint(bug.key, bug.title, bug.rank, probes[bug.key])
        for bug in sorted(version.bugs, key=lambda b: (b.rank, b.key))
    ]
