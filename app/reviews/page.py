"""The review page's data: code and comments, items to decide beside the key, time on task."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.reviews import trail
from app.reviews.integrity import find_near_duplicates
from app.reviews.models import (
    MatchVerdict,
)
from app.reviews.queue import Neighbours, neighbours

# Totals this close to the line are where a human changes outcomes, so they rise in the queue.
from app.reviews.service import (
    _rubric,
    auto_matches,
    candidate_label,
    decision_state,
    effective_matches,
    get_decision,
    get_submission,
    latest_auto_score,
    recompute,
    undecided_items,
)
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade
from app.submissions import composition
from app.submissions.highlight import highlight_lines
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import User
from grading import DIMENSIONS, SUMMARY, Grade

# -- the review page ---------------------------------------------------------------------------


@dataclass
class CommentView:
    """A candidate's comment with what the auto-grader took it for."""

    index: int
    file: str | None
    line: int | None
    end_line: int | None
    severity: str | None
    body: str
    kind: str | None = None
    confidence: float | None = None
    tradeoff: bool | None = None


@dataclass
class MatchView:
    """A comment-to-bug match, auto or added, with the grader's verdict."""

    bug: str
    bug_title: str
    comment: int
    confidence: float | None
    evidence: str
    text: str  # the comment's text (Markdown), shown with `words` marked
    words: list[str]
    source: str  # auto | grader
    verdict: str | None
    decided_by: str | None
    decided_at: datetime | None


@dataclass
class FlagView:
    """A red flag with its evidence and the grader's verdict."""

    kind: str
    comment: int
    evidence: str
    confidence: float | None
    verdict: str | None
    decided_by: str | None
    quote: str | None = None  # the candidate's words behind the flag, widened to whole words
    about: str = ""  # what the flag means, from the rubric


@dataclass(frozen=True)
class NoteView:
    """A near miss or false alarm: shown beside the key, counted only if a grader adds it."""

    kind: str  # near_miss | false_alarm
    comment: int
    text: str
    key: str
    key_title: str
    key_text: str
    detail: str


@dataclass(frozen=True)
class TimeOnTask:
    """When the candidate started and stopped, and whether the deadline stopped them."""

    started_at: datetime | None
    submitted_at: datetime | None
    limit_minutes: int
    auto_submitted: bool

    @property
    def used_minutes(self) -> float | None:
        """Minutes from Start to submission."""
        if self.started_at is None or self.submitted_at is None:
            return None
        return (self.submitted_at - self.started_at).total_seconds() / 60.0


@dataclass
class DimensionView:
    """One dimension: the auto value, the value now, and why it differs."""

    name: str
    weight: float
    auto: float | None
    value: float
    source: str
    reason: str | None


@dataclass
class SnippetLine:
    """A line of the snippet with the comments anchored at it and the bugs it belongs to."""

    number: int
    text: str
    html: str = ""  # the line syntax-highlighted, as safe HTML
    comments: list[CommentView] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    decoys: list[str] = field(default_factory=list)
    starts: list[tuple[str, str]] = field(default_factory=list)  # (bug|decoy, key) begun here


@dataclass(frozen=True)
class ReasonView:
    """Why the auto-grader asks a human, with the comment it is about (SUMMARY for the
    summary, None for the review as a whole) taken off the front of the engine's words."""

    comment: int | None
    text: str


# The engine starts a reason about one comment with "comment N " or "the summary ".
REASON_SUBJECT_RE = re.compile(r"(?:comment (\d+)|the summary) (?=\S)")


def reason_views(grade: Grade | None) -> list[ReasonView]:
    """The auto-grader's reasons for asking a human, each tied to its comment where it names one."""
    out = []
    for reason in grade.evidence.review_reasons if grade else ():
        subject = REASON_SUBJECT_RE.match(reason)
        if subject is None:
            out.append(ReasonView(None, reason[:1].upper() + reason[1:]))
            continue
        number = subject.group(1)
        comment = int(number) - 1 if number is not None else SUMMARY
        out.append(ReasonView(comment, reason[subject.end() :]))
    return out


@dataclass
class ReviewPage:
    """Everything the review page shows."""

    submission: Submission
    candidate: str
    auto: AutoScore | None
    decision_state: dict[str, Any]
    version: int
    status: str
    files: list[tuple[str, list[SnippetLine]]]
    unanchored: list[CommentView]
    comments: list[CommentView]
    bugs: list[dict[str, Any]]
    decoys: list[dict[str, Any]]
    matches: list[MatchView]
    near_misses: list[NoteView]
    false_alarms: list[NoteView]
    flags: list[FlagView]
    review_reasons: list[ReasonView]
    dimensions: list[DimensionView]
    auto_total: float | None
    total: float
    undecided: list[str]
    found_bugs: set[str]
    duplicates: list[tuple[int, float]]
    events: list[AuditEvent]
    finalized_by: str | None
    finalized_at: datetime | None
    timing: TimeOnTask
    neighbours: Neighbours
    users: dict[int, str]
    trail: list[str]
    growth: list[composition.Growth]


FLAG_ABOUT = {
    "rewrite": "Proposes rewriting working code instead of fixing the bug.",
    "framework": "Reaches for a framework or library where a small fix would do.",
    "style_only": "Comments only on style while real defects go unmentioned.",
    "no_questions": "Asks nothing about how the code is used before judging it.",
}


def whole_word_quote(quote: str, text: str) -> str:
    """`quote` widened to start and end on word boundaries of `text` (the engine may cut words)."""
    quote = quote.strip()
    if not quote:
        return quote
    at = text.lower().find(quote.lower())
    if at < 0:
        return quote
    start, end = at, at + len(quote)
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return text[start:end]


def match_evidence(
    auto: AutoScore | None, grade: Grade | None, bug: str, comment: int
) -> tuple[list[str], str]:
    """The words to highlight for one auto match, and the engine's explanation of it."""
    row = next(
        (
            m
            for m in (auto.matches if auto else [])
            if (m.bug_key, m.comment_index) == (bug, comment)
        ),
        None,
    )
    explanation = row.evidence if row else ""
    for item in grade.evidence.matches if grade else ():
        if (item.bug, item.comment) == (bug, comment):
            return list(item.words), item.explanation or explanation
    return [], explanation


def _comment_views(submission: Submission, grade: Grade | None) -> list[CommentView]:
    labels = grade.comments if grade else ()
    views = []
    for i, c in enumerate(submission.comments):
        label = labels[i] if i < len(labels) else None
        views.append(
            CommentView(
                i,
                c.file,
                c.line,
                c.end_line,
                c.severity,
                c.body,
                label.kind if label else None,
                label.confidence if label else None,
                label.tradeoff if label else None,
            )
        )
    return views


def _comment_text(submission: Submission, index: int) -> str:
    if index == SUMMARY:
        return submission.summary
    if 0 <= index < len(submission.comments):
        return submission.comments[index].body
    return ""


def build_review_page(session: Session, submission_id: int) -> ReviewPage:
    """The data of the review page of one submission."""
    submission = get_submission(session, submission_id)
    auto = latest_auto_score(session, submission.id)
    grade = stored_grade(auto) if auto else None
    decision = get_decision(session, submission.id)
    version = submission.version
    users = {u.id: u.name or u.email for u in session.scalars(select(User))}
    comments = _comment_views(submission, grade)
    bug_titles = {b.key: b.title for b in version.bugs}

    files: list[tuple[str, list[SnippetLine]]] = []
    by_name: dict[str, list[SnippetLine]] = {}
    for f in version.files:
        highlighted = highlight_lines(f["name"], f["text"], version.language)
        lines = [
            SnippetLine(n, text, str(highlighted[n - 1]) if n <= len(highlighted) else "")
            for n, text in enumerate(f["text"].splitlines(), 1)
        ]
        files.append((f["name"], lines))
        by_name[f["name"]] = lines
    unanchored = []
    for c in comments:
        target = by_name.get(c.file or "") or (
            files[0][1] if len(files) == 1 and not c.file else None
        )
        anchor = c.end_line or c.line
        if target and anchor and 1 <= anchor <= len(target):
            target[anchor - 1].comments.append(c)
        else:
            unanchored.append(c)
    for bug in version.bugs:
        for start, end in bug.lines:
            for line in by_name.get(bug.file or "", [])[start - 1 : end]:
                line.bugs.append(bug.key)
            if 1 <= start <= len(by_name.get(bug.file or "", [])):
                by_name[bug.file or ""][start - 1].starts.append(("bug", bug.key))
    for decoy in version.decoys:
        for start, end in decoy.lines:
            for line in by_name.get(decoy.file or "", [])[start - 1 : end]:
                line.decoys.append(decoy.key)
            if 1 <= start <= len(by_name.get(decoy.file or "", [])):
                by_name[decoy.file or ""][start - 1].starts.append(("decoy", decoy.key))

    decided = {
        (m.bug_key, m.comment_index): m for m in (decision.match_decisions if decision else [])
    }
    auto_conf = {(m.bug, m.comment): m.confidence for m in grade.matches} if grade else {}
    matches = []
    for key in auto_matches(auto):
        md = decided.get(key)
        words, explanation = match_evidence(auto, grade, *key)
        matches.append(
            MatchView(
                key[0],
                bug_titles.get(key[0], key[0]),
                key[1],
                auto_conf.get(key),
                explanation,
                _comment_text(submission, key[1]),
                words,
                "auto",
                md.verdict.value if md else None,
                users.get(md.decided_by_id) if md and md.decided_by_id else None,
                md.decided_at if md else None,
            )
        )
    for key, md in sorted(decided.items()):
        if md.verdict is MatchVerdict.added:
            matches.append(
                MatchView(
                    key[0],
                    bug_titles.get(key[0], key[0]),
                    key[1],
                    None,
                    "",
                    _comment_text(submission, key[1]),
                    [],
                    "grader",
                    "added",
                    users.get(md.decided_by_id) if md.decided_by_id else None,
                    md.decided_at,
                )
            )

    flag_decided = {
        (f.kind, f.comment_index): f for f in (decision.flag_decisions if decision else [])
    }
    flag_rows = {(f.kind, f.comment_index): f for f in (auto.flags if auto else [])}
    flags = []
    for raw in grade.red_flags if grade else ():
        key = (raw.kind, raw.comment)
        fd, flag_row = flag_decided.get(key), flag_rows.get(key)
        evidence = raw.evidence or (flag_row.evidence if flag_row else "")
        # A flag on one comment quotes the candidate; one on the whole review (no_questions)
        # explains an absence, which is no one's words.
        quote = (
            whole_word_quote(evidence, _comment_text(submission, key[1]))
            if key[1] != SUMMARY and key[0] != "no_questions" and evidence
            else None
        )
        flags.append(
            FlagView(
                key[0],
                key[1],
                evidence,
                flag_row.confidence if flag_row else None,
                fd.verdict.value if fd else None,
                users.get(fd.decided_by_id) if fd and fd.decided_by_id else None,
                quote,
                FLAG_ABOUT.get(key[0], ""),
            )
        )
    by_key = {b.key: b for b in version.bugs}
    decoy_by_key = {d.key: d for d in version.decoys}
    near_misses = [
        NoteView(
            "near_miss",
            n.comment,
            _comment_text(submission, n.comment),
            n.bug,
            by_key[n.bug].title if n.bug in by_key else n.bug,
            by_key[n.bug].description if n.bug in by_key else "",
            n.kind,
        )
        for n in (grade.near_misses if grade else ())
    ]
    false_alarms = [
        NoteView(
            "false_alarm",
            f.comment,
            _comment_text(submission, f.comment),
            f.decoy,
            f.decoy,
            decoy_by_key[f.decoy].why if f.decoy in decoy_by_key else "",
            "",
        )
        for f in (grade.false_alarms if grade else ())
    ]

    now = recompute(submission, auto, decision)
    rubric = _rubric(version)
    reasons = {o.dimension: o.reason for o in (decision.overrides if decision else [])}
    dimensions = [
        DimensionView(
            d,
            rubric.weight(d),
            auto.dimensions.get(d) if auto else None,
            now.dimensions[d],
            now.sources[d],
            reasons.get(d),
        )
        for d in DIMENSIONS
    ]
    found = {bug for bug, _ in effective_matches(auto, decision)}
    bugs = [
        {
            "key": b.key,
            "title": b.title,
            "description": b.description,
            "rank": b.rank,
            "subtle": b.subtle,
            "file": b.file,
            "lines": b.lines,
            "found": b.key in found,
        }
        for b in version.bugs
    ]
    decoys = [
        {"key": d.key, "why": d.why, "file": d.file, "lines": d.lines} for d in version.decoys
    ]
    state = decision_state(decision)
    events = audit.list_events(session, "submission", submission.public_id)
    return ReviewPage(
        submission=submission,
        candidate=candidate_label(submission, decision),
        auto=auto,
        decision_state=state,
        version=state["version"],
        status=state["status"],
        files=files,
        unanchored=unanchored,
        comments=comments,
        bugs=bugs,
        decoys=decoys,
        matches=matches,
        near_misses=near_misses,
        false_alarms=false_alarms,
        flags=flags,
        review_reasons=reason_views(grade),
        dimensions=dimensions,
        auto_total=auto.total if auto else None,
        total=now.total,
        undecided=undecided_items(auto, decision),
        found_bugs=found,
        duplicates=find_near_duplicates(session, submission),
        events=events,
        finalized_by=users.get(decision.finalized_by_id)
        if decision and decision.finalized_by_id
        else None,
        finalized_at=decision.finalized_at if decision else None,
        timing=TimeOnTask(
            submission.started_at,
            submission.submitted_at,
            version.time_limit_minutes,
            submission.status is SubmissionStatus.auto_submitted,
        ),
        neighbours=neighbours(session, submission.id),
        users=users,
        trail=[trail.describe(event, users) for event in events],
        growth=composition.timeline(session, submission),
    )
