"""Human grading: the queue, the review page's data, decisions, sign-off and export."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.assessments.models import Assessment, AssessmentVersion
from app.assessments.service import to_grading
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.db import utcnow
from app.reviews import trail
from app.reviews.models import (
    DecisionStatus,
    DimensionOverride,
    FlagDecision,
    FlagVerdict,
    GradeDecision,
    MatchDecision,
    MatchVerdict,
)
from app.scoring.models import AutoScore
from app.scoring.service import to_review
from app.submissions import composition
from app.submissions.highlight import highlight_lines
from app.submissions.models import ReviewComment, Submission, SubmissionStatus
from app.users.models import User
from grading import DIMENSIONS, SUMMARY, Rescore, Rubric, rescore

# Totals this close to the line are where a human changes outcomes, so they rise in the queue.
DECISION_LINE = 60.0
QUEUE_LIMIT = 500
DUPLICATE_THRESHOLD = 90.0
DUPLICATE_MIN_CHARS = 80
# The near-duplicate check compares at most this much of each review: enough to catch a
# copied review, and at most a few milliseconds per pair however long the drafts are.
DUPLICATE_MAX_CHARS = 4_000
DUPLICATE_MAX_COMMENTS = 50
MAX_REASON_CHARS = 2000
SUBMITTED = (SubmissionStatus.submitted, SubmissionStatus.auto_submitted)
FLAG_KINDS = ("rewrite", "framework", "style_only", "no_questions")


class ReviewError(Exception):
    """A grading request that cannot be carried out."""


class SubmissionNotFound(ReviewError, LookupError):
    """No submitted submission has that id."""


class InvalidDecision(ReviewError, ValueError):
    """The decision names something that does not exist or is out of range."""


class DecisionConflict(ReviewError):
    """The grade changed since the page was loaded; nothing was saved."""

    def __init__(self, message: str, *, submission_id: int, lost_race: bool = False) -> None:
        super().__init__(message)
        self.submission_id = submission_id
        # True when the refusal came from the database at write time: the session holds a
        # failed flush and must be rolled back before it is used again.
        self.lost_race = lost_race


# -- reading -----------------------------------------------------------------------------------


def get_submission(session: Session, submission_id: int) -> Submission:
    """A submitted submission, or SubmissionNotFound (drafts are never graded)."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.status not in SUBMITTED:
        raise SubmissionNotFound(f"no submitted submission {submission_id}")
    return submission


def latest_auto_score(session: Session, submission_id: int) -> AutoScore | None:
    """The newest auto-score of a submission."""
    return session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id == submission_id)
        .order_by(AutoScore.created_at.desc(), AutoScore.id.desc())
        .limit(1)
    ).first()


def get_decision(
    session: Session, submission_id: int, *, for_update: bool = False
) -> GradeDecision | None:
    """The grade decision of a submission, if a grader has saved anything yet."""
    query = select(GradeDecision).where(GradeDecision.submission_id == submission_id)
    if for_update:
        # PostgreSQL: a second grader's save waits here and then sees the new version.
        query = query.with_for_update()
    return session.scalars(query).first()


def candidate_label(submission: Submission, decision: GradeDecision | None) -> str:
    """The candidate's name once the grade is final; until then an anonymous label."""
    if decision is not None and decision.status is DecisionStatus.final:
        return (
            submission.invite.candidate_name
            or submission.invite.candidate_email
            or (f"Candidate {submission.public_id}")
        )
    return f"Candidate #{submission.id}"


def final_submission_ids(session: Session, submission_ids: Sequence[int]) -> set[int]:
    """Which of these submissions have a final grade (only those may show who the candidate is)."""
    if not submission_ids:
        return set()
    return set(
        session.scalars(
            select(GradeDecision.submission_id).where(
                GradeDecision.submission_id.in_(submission_ids),
                GradeDecision.status == DecisionStatus.final,
            )
        )
    )


def reveal_candidate(session: Session, submission_id: int, user: User) -> str:
    """Who the candidate is, before the grade is final: an admin's act, kept in the audit trail."""
    submission = get_submission(session, submission_id)
    invite = submission.invite
    name = invite.candidate_name or invite.candidate_email or f"Candidate {submission.public_id}"
    audit.record(
        session, user, "submission", submission.public_id, "candidate.revealed", None, None
    )
    return name


def _kinds(submission: Submission, auto: AutoScore | None) -> list[str | None]:
    """The auto-grader's kind of each comment; None where it gave none."""
    labels = (auto.result.get("comments") or []) if auto else []
    return [
        labels[i].get("kind") if i < len(labels) and isinstance(labels[i], dict) else None
        for i in range(len(submission.comments))
    ]


def auto_matches(auto: AutoScore | None) -> list[tuple[str, int]]:
    """The (bug, comment) matches of an auto-score, in the engine's order."""
    if auto is None:
        return []
    return [(str(m["bug"]), int(m["comment"])) for m in auto.result.get("matches", [])]


def auto_flags(auto: AutoScore | None) -> list[tuple[str, int]]:
    """The (kind, comment) red flags of an auto-score, in the engine's order."""
    if auto is None:
        return []
    return [(str(f["kind"]), int(f["comment"])) for f in auto.result.get("red_flags", [])]


def effective_matches(
    auto: AutoScore | None, decision: GradeDecision | None
) -> list[tuple[str, int]]:
    """The matches that count: auto ones not rejected, then the ones graders added."""
    verdicts = {
        (m.bug_key, m.comment_index): m.verdict
        for m in (decision.match_decisions if decision else [])
    }
    kept = [m for m in auto_matches(auto) if verdicts.get(m) is not MatchVerdict.rejected]
    added = sorted(
        key
        for key, verdict in verdicts.items()
        if verdict is MatchVerdict.added and key not in kept
    )
    return kept + added


def recompute(
    submission: Submission, auto: AutoScore | None, decision: GradeDecision | None
) -> Rescore:
    """The grade as it stands with the decisions taken so far."""
    _, answer_key = to_grading(submission.version)
    return rescore(
        answer_key,
        _rubric(submission.version),
        comments=to_review(submission).comments,
        kinds=_kinds(submission, auto),
        auto=auto.dimensions if auto else {},
        auto_total=auto.total if auto else None,
        auto_matches=auto_matches(auto),
        matches=effective_matches(auto, decision),
        overrides={o.dimension: o.value for o in (decision.overrides if decision else [])},
        summary_priority=(auto.evidence or {}).get("summary_priority", []) if auto else [],
    )


def _rubric(version: AssessmentVersion) -> Rubric:
    return Rubric(**(version.rubric or {}))


def decision_state(decision: GradeDecision | None) -> dict[str, Any]:
    """The saved decisions as plain data (API answers, audit events and conflicts)."""
    if decision is None:
        return {
            "version": 0,
            "status": "pending",
            "dimensions": {},
            "total": None,
            "matches": [],
            "flags": [],
            "overrides": {},
        }
    return {
        "version": decision.version,
        "status": decision.status.value,
        "dimensions": dict(decision.dimensions),
        "total": decision.total,
        "matches": sorted(
            (
                {"bug": m.bug_key, "comment": m.comment_index, "verdict": m.verdict.value}
                for m in decision.match_decisions
            ),
            key=lambda m: (m["bug"], m["comment"]),
        ),
        "flags": sorted(
            (
                {"kind": f.kind, "comment": f.comment_index, "verdict": f.verdict.value}
                for f in decision.flag_decisions
            ),
            key=lambda f: (f["kind"], f["comment"]),
        ),
        "overrides": {
            o.dimension: {"value": o.value, "reason": o.reason}
            for o in sorted(decision.overrides, key=lambda o: o.dimension)
        },
    }


# -- queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One submission in the grading queue."""

    submission_id: int
    assessment_slug: str
    assessment_title: str
    candidate: str
    submitted_at: datetime | None
    auto_total: float | None
    total: float | None
    needs_review: bool
    flag_count: int
    status: str  # unscored | pending | open | final
    graded_by: str | None
    reasons: tuple[str, ...]


QUEUE_STATUSES = ("todo", "pending", "open", "final", "all")


def list_queue(
    session: Session, *, assessment: str | None = None, status: str = "todo"
) -> list[QueueRow]:
    """Submitted work, what needs a human most first: needs_review, red flags, near the line."""
    if status not in QUEUE_STATUSES:
        raise InvalidDecision(f"status must be one of {', '.join(QUEUE_STATUSES)}")
    query = (
        select(Submission)
        .where(Submission.status.in_(SUBMITTED))
        .options(
            selectinload(Submission.invite),
            selectinload(Submission.version).selectinload(AssessmentVersion.assessment),
        )
        .order_by(Submission.submitted_at, Submission.id)
    )
    if assessment:
        query = query.join(AssessmentVersion).join(Assessment).where(Assessment.slug == assessment)
    submissions = list(session.scalars(query.limit(QUEUE_LIMIT * 4)))
    ids = [s.id for s in submissions]
    autos: dict[int, AutoScore] = {}
    for scored in session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id.in_(ids))
        .order_by(AutoScore.created_at, AutoScore.id)
    ):
        autos[scored.submission_id] = scored  # the newest wins
    decisions = {
        d.submission_id: d
        for d in session.scalars(select(GradeDecision).where(GradeDecision.submission_id.in_(ids)))
    }
    users = {u.id: u.name or u.email for u in session.scalars(select(User))}
    rows = []
    for s in submissions:
        auto, decision = autos.get(s.id), decisions.get(s.id)
        row_status = (
            "final"
            if decision and decision.status is DecisionStatus.final
            else "open"
            if decision
            else "pending"
            if auto
            else "unscored"
        )
        if status == "todo" and row_status == "final":
            continue
        if status in ("pending", "open", "final") and row_status != status:
            continue
        flags = len(auto.result.get("red_flags", [])) if auto else 0
        reasons = []
        if auto and auto.needs_review:
            reasons.append("needs review")
        if flags:
            reasons.append(f"{flags} red flag{'s' if flags > 1 else ''}")
        if auto and abs(auto.total - DECISION_LINE) <= 10:
            reasons.append("near the line")
        if auto is None:
            reasons.append("awaiting auto-score")
        grader_id = (decision.finalized_by_id or decision.updated_by_id) if decision else None
        rows.append(
            QueueRow(
                submission_id=s.id,
                assessment_slug=s.version.assessment.slug,
                assessment_title=s.version.title,
                candidate=candidate_label(s, decision),
                submitted_at=s.submitted_at,
                auto_total=auto.total if auto else None,
                total=decision.total if decision else (auto.total if auto else None),
                needs_review=bool(auto and auto.needs_review),
                flag_count=flags,
                status=row_status,
                graded_by=users.get(grader_id) if grader_id else None,
                reasons=tuple(reasons),
            )
        )
    rows.sort(key=_priority)
    return rows[:QUEUE_LIMIT]


def _priority(row: QueueRow) -> tuple[Any, ...]:
    done = row.status == "final"
    unscored = row.auto_total is None
    distance = abs(row.auto_total - DECISION_LINE) if row.auto_total is not None else 100.0
    return (
        done,
        unscored,
        not row.needs_review,
        -row.flag_count,
        distance,
        row.submitted_at or utcnow(),
        row.submission_id,
    )


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


@dataclass(frozen=True)
class Neighbours:
    """Where the grader goes next, in the queue's order."""

    previous: int | None
    next: int | None
    next_todo: int | None
    position: int | None
    count: int


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


def neighbours(session: Session, submission_id: int) -> Neighbours:
    """Previous and next in the queue's order, and the first other submission still to grade."""
    rows = list_queue(session, status="all")
    ids = [r.submission_id for r in rows]
    todo = [
        r.submission_id for r in rows if r.status != "final" and r.submission_id != submission_id
    ]
    if submission_id not in ids:
        return Neighbours(None, None, todo[0] if todo else None, None, len(ids))
    at = ids.index(submission_id)
    return Neighbours(
        ids[at - 1] if at > 0 else None,
        ids[at + 1] if at + 1 < len(ids) else None,
        todo[0] if todo else None,
        at + 1,
        len(ids),
    )


def match_evidence(auto: AutoScore | None, bug: str, comment: int) -> tuple[list[str], str]:
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
    for item in (auto.evidence.get("matches") or []) if auto else []:
        if isinstance(item, dict) and (item.get("bug"), item.get("comment")) == (bug, comment):
            words = [str(w) for w in item.get("words") or []]
            if item.get("quote"):
                words.append(str(item["quote"]))
            return words, str(item.get("explanation") or explanation)
    return [], explanation


def _comment_views(submission: Submission, auto: AutoScore | None) -> list[CommentView]:
    classes = (auto.result.get("comments") or []) if auto else []
    views = []
    for i, c in enumerate(submission.comments):
        info = classes[i] if i < len(classes) and isinstance(classes[i], dict) else {}
        views.append(
            CommentView(
                i,
                c.file,
                c.line,
                c.end_line,
                c.severity,
                c.body,
                info.get("kind"),
                info.get("confidence"),
                info.get("tradeoff"),
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
    decision = get_decision(session, submission.id)
    version = submission.version
    users = {u.id: u.name or u.email for u in session.scalars(select(User))}
    comments = _comment_views(submission, auto)
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
    auto_conf = {
        (str(m["bug"]), int(m["comment"])): m.get("confidence")
        for m in (auto.result.get("matches", []) if auto else [])
    }
    matches = []
    for key in auto_matches(auto):
        md = decided.get(key)
        words, explanation = match_evidence(auto, *key)
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
    for raw in auto.result.get("red_flags", []) if auto else []:
        key = (str(raw["kind"]), int(raw["comment"]))
        fd, flag_row = flag_decided.get(key), flag_rows.get(key)
        evidence = str(raw.get("evidence") or (flag_row.evidence if flag_row else ""))
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
                raw.get("confidence"),
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
            int(n["comment"]),
            _comment_text(submission, int(n["comment"])),
            str(n["bug"]),
            by_key[n["bug"]].title if n["bug"] in by_key else str(n["bug"]),
            by_key[n["bug"]].description if n["bug"] in by_key else "",
            str(n.get("kind") or ""),
        )
        for n in (auto.result.get("near_misses", []) if auto else [])
    ]
    false_alarms = [
        NoteView(
            "false_alarm",
            int(f["comment"]),
            _comment_text(submission, int(f["comment"])),
            str(f["decoy"]),
            str(f["decoy"]),
            decoy_by_key[f["decoy"]].why if f["decoy"] in decoy_by_key else "",
            "",
        )
        for f in (auto.result.get("false_alarms", []) if auto else [])
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


def undecided_items(auto: AutoScore | None, decision: GradeDecision | None) -> list[str]:
    """What a grader has not yet confirmed or rejected (finalizing needs none left)."""
    matched = {(m.bug_key, m.comment_index) for m in (decision.match_decisions if decision else [])}
    flagged = {(f.kind, f.comment_index) for f in (decision.flag_decisions if decision else [])}
    left = [
        f"match {bug} ↔ {_where(comment)}"
        for bug, comment in auto_matches(auto)
        if (bug, comment) not in matched
    ]
    left += [
        f"red flag {kind} ({_where(comment, whole='whole review')})"
        for kind, comment in auto_flags(auto)
        if (kind, comment) not in flagged
    ]
    return left


def _where(comment: int, *, whole: str = "summary") -> str:
    return whole if comment == SUMMARY else f"comment {comment + 1}"


# -- integrity ---------------------------------------------------------------------------------


def _normalized(bodies: Sequence[str]) -> str:
    text = " ".join(" ".join(body.lower().split()) for body in bodies)
    return text[:DUPLICATE_MAX_CHARS]


def review_text(submission: Submission) -> str:
    """The start of a review's comment texts, normalized for comparison (bounded in size)."""
    return _normalized(
        [c.body[:DUPLICATE_MAX_CHARS] for c in submission.comments[:DUPLICATE_MAX_COMMENTS]]
    )


def find_near_duplicates(
    session: Session, submission: Submission, *, threshold: float = DUPLICATE_THRESHOLD
) -> list[tuple[int, float]]:
    """Other submissions of the same assessment whose comments read nearly the same.

    Only the start of each review is compared (DUPLICATE_MAX_CHARS), read from the database
    as such: the comparison is quadratic in the text's length, and a candidate must not be
    able to make a grader's page slow by writing drafts at the size limits.
    """
    text = review_text(submission)
    if len(text) < DUPLICATE_MIN_CHARS:
        return []
    rows = session.execute(
        select(
            ReviewComment.submission_id,
            func.substr(ReviewComment.body, 1, DUPLICATE_MAX_CHARS),
        )
        .join(Submission, Submission.id == ReviewComment.submission_id)
        .join(AssessmentVersion, AssessmentVersion.id == Submission.version_id)
        .where(
            AssessmentVersion.assessment_id == submission.version.assessment_id,
            Submission.id != submission.id,
            Submission.status.in_(SUBMITTED),
            ReviewComment.position < DUPLICATE_MAX_COMMENTS,
        )
        .order_by(ReviewComment.submission_id, ReviewComment.position)
    ).all()
    bodies: dict[int, list[str]] = {}
    for submission_id, body in rows:
        bodies.setdefault(submission_id, []).append(body)
    choices = {key: _normalized(parts) for key, parts in bodies.items()}
    hits = process.extract(
        text, choices, scorer=fuzz.token_sort_ratio, score_cutoff=threshold, limit=10
    )
    return sorted(
        ((int(key), round(float(score), 1)) for _, score, key in hits),
        key=lambda hit: (-hit[1], hit[0]),
    )


# -- decisions ---------------------------------------------------------------------------------


def await_other_writers(session: Session) -> None:
    """After a lost race (and a rollback), wait until the winner's save is visible."""
    # On SQLite a transaction that has read cannot wait for the write lock, so the loser may
    # learn of the race before the winner commits; claiming the lock in a fresh transaction
    # waits for that commit. PostgreSQL only reports the race after the winner committed.
    if session.get_bind().dialect.name == "sqlite":
        table = GradeDecision.__table__
        claim = update(table).where(table.c.id == -1)  # type: ignore[arg-type]
        session.execute(claim.values(version=table.c.version))


def _claim_write_lock(session: Session, submission_id: int) -> None:
    # SQLite has no SELECT ... FOR UPDATE. A write that changes nothing takes the database's
    # write lock before anything is read, so that two saves run one after the other and the
    # second reads the first one's version. It waits for other writers only as the first
    # statement of its transaction: the route ends the sign-in check's read transaction first.
    if session.get_bind().dialect.name != "sqlite":
        return
    table = GradeDecision.__table__
    try:
        session.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.submission_id == submission_id)
            .values(version=table.c.version)
        )
    except OperationalError as exc:
        if not _is_write_race(exc):
            raise
        raise DecisionConflict(
            "Another grader saved this submission at the same moment. Your change was not "
            "saved; review the current state below and apply it again if it still holds.",
            submission_id=submission_id,
            lost_race=True,
        ) from exc


def _check_version(
    session: Session, submission: Submission, expected_version: int
) -> GradeDecision | None:
    decision = get_decision(session, submission.id, for_update=True)
    current = decision.version if decision else 0
    if current != expected_version:
        raise DecisionConflict(
            f"Another grader saved this submission since you loaded it (you started from "
            f"version {expected_version}, it is now at version {current}). Your change was "
            f"not saved; review the current state below and apply it again if it still holds.",
            submission_id=submission.id,
        )
    if decision is not None and decision.status is DecisionStatus.final:
        raise DecisionConflict(
            "This grade is final and can no longer be changed.", submission_id=submission.id
        )
    return decision


def _ensure_decision(
    session: Session,
    submission: Submission,
    decision: GradeDecision | None,
    auto: AutoScore | None,
    user: User,
) -> GradeDecision:
    # Created only once the request is known to be valid, so a refused request writes nothing.
    if decision is None:
        decision = GradeDecision(
            submission_id=submission.id,
            auto_score_id=auto.id if auto else None,
            dimensions=dict(auto.dimensions) if auto else {},
            total=auto.total if auto else None,
            updated_by_id=user.id,
        )
        session.add(decision)
    return decision


def _save(
    session: Session,
    submission: Submission,
    decision: GradeDecision,
    auto: AutoScore | None,
    user: User,
) -> None:
    submission_id = submission.id  # a failed flush expires every loaded object
    try:
        # One flush only: each flush of a changed decision bumps its version.
        with session.no_autoflush:
            now = recompute(submission, auto, decision)
        decision.dimensions = now.dimensions
        decision.total = now.total
        decision.updated_at = utcnow()
        decision.updated_by_id = user.id
        session.flush()
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        # Each means another grader's save landed between our read and our write: a stale
        # version, a duplicate first decision, or (SQLite) a write on an outdated snapshot.
        if isinstance(exc, OperationalError) and not _is_write_race(exc):
            raise
        raise DecisionConflict(
            "Another grader saved this submission at the same moment. Your change was not "
            "saved; review the current state below and apply it again if it still holds.",
            submission_id=submission_id,
            lost_race=True,
        ) from exc


def _is_write_race(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(sign in message for sign in ("locked", "deadlock", "could not serialize"))


def _check_comment(submission: Submission, comment: int) -> None:
    if comment != SUMMARY and not 0 <= comment < len(submission.comments):
        raise InvalidDecision(f"there is no comment {comment + 1}")


def decide_match(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    bug: str,
    comment: int,
    verdict: str,
) -> GradeDecision:
    """Confirm or reject an auto match, add a match, or clear an earlier decision."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if bug not in {b.key for b in submission.version.bugs}:
        raise InvalidDecision(f"{bug!r} is not a seeded bug of this assessment")
    _check_comment(submission, comment)
    if verdict not in {v.value for v in MatchVerdict} | {"cleared"}:
        raise InvalidDecision("verdict must be confirmed, rejected, added or cleared")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    key = (bug, comment)
    is_auto = key in set(auto_matches(auto))
    if verdict == MatchVerdict.added and is_auto:
        raise InvalidDecision("the auto-grader already made that match: confirm it instead")
    if verdict in (MatchVerdict.confirmed, MatchVerdict.rejected) and not is_auto:
        raise InvalidDecision("only the auto-grader's matches can be confirmed or rejected")
    before_total = recompute(submission, auto, decision).total
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next(
        (m for m in decision.match_decisions if (m.bug_key, m.comment_index) == key), None
    )
    before = existing.verdict.value if existing else None
    _set_verdict(
        decision.match_decisions,
        existing,
        verdict,
        user,
        lambda: MatchDecision(bug_key=bug, comment_index=comment, verdict=MatchVerdict(verdict)),
    )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        f"match.{verdict}",
        {"bug": bug, "comment": comment, "verdict": before, "total": before_total},
        {
            "bug": bug,
            "comment": comment,
            "verdict": None if verdict == "cleared" else verdict,
            "total": decision.total,
            "dimensions": decision.dimensions,
            "version": decision.version,
        },
    )
    return decision


def _set_verdict(
    items: list[Any], existing: Any | None, verdict: str, user: User, make: Callable[[], Any]
) -> None:
    """Clear, change or add one grader verdict (a match or flag decision) in a decision's list."""
    if verdict == "cleared":
        if existing is not None:
            items.remove(existing)
        return
    if existing is None:
        existing = make()
        items.append(existing)
    else:
        existing.verdict = type(existing.verdict)(verdict)
    existing.decided_by_id, existing.decided_at = user.id, utcnow()


def decide_flag(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    kind: str,
    comment: int,
    verdict: str,
) -> GradeDecision:
    """Confirm or dismiss a red flag (or clear the decision)."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if verdict not in {v.value for v in FlagVerdict} | {"cleared"}:
        raise InvalidDecision("verdict must be confirmed, dismissed or cleared")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    key = (kind, comment)
    if key not in set(auto_flags(auto)):
        raise InvalidDecision("the auto-grader raised no such red flag")
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next((f for f in decision.flag_decisions if (f.kind, f.comment_index) == key), None)
    before = existing.verdict.value if existing else None
    _set_verdict(
        decision.flag_decisions,
        existing,
        verdict,
        user,
        lambda: FlagDecision(kind=kind, comment_index=comment, verdict=FlagVerdict(verdict)),
    )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        f"flag.{verdict}",
        {"kind": kind, "comment": comment, "verdict": before},
        {
            "kind": kind,
            "comment": comment,
            "verdict": None if verdict == "cleared" else verdict,
            "version": decision.version,
        },
    )
    return decision


def override_dimension(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    dimension: str,
    value: float | None,
    reason: str,
) -> GradeDecision:
    """Set a dimension by hand with a written reason (or, with no value, remove the override)."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if dimension not in DIMENSIONS:
        raise InvalidDecision(f"dimension must be one of {', '.join(DIMENSIONS)}")
    reason = reason.strip()
    if value is not None:
        if not 0.0 <= value <= 100.0:
            raise InvalidDecision("a dimension's score is between 0 and 100")
        if len(reason) < 3:
            raise InvalidDecision("write the reason for the override")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidDecision(f"the reason is longer than {MAX_REASON_CHARS} characters")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    before_now = recompute(submission, auto, decision)
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next((o for o in decision.overrides if o.dimension == dimension), None)
    before = {
        "dimension": dimension,
        "value": before_now.dimensions[dimension],
        "override": existing.value if existing else None,
        "reason": existing.reason if existing else None,
        "total": before_now.total,
    }
    if value is None:
        if existing is not None:
            decision.overrides.remove(existing)
    elif existing is not None:
        existing.value, existing.reason = round(float(value), 1), reason
        existing.decided_by_id, existing.decided_at = user.id, utcnow()
    else:
        decision.overrides.append(
            DimensionOverride(
                dimension=dimension,
                value=round(float(value), 1),
                reason=reason,
                decided_by_id=user.id,
                decided_at=utcnow(),
            )
        )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "dimension.overridden" if value is not None else "dimension.override_cleared",
        before,
        {
            "dimension": dimension,
            "value": decision.dimensions[dimension],
            "override": round(value, 1) if value is not None else None,
            "reason": reason or None,
            "total": decision.total,
            "version": decision.version,
        },
    )
    return decision


def finalize(session: Session, submission_id: int, user: User, *, version: int) -> GradeDecision:
    """Sign the grade: every auto match and red flag must have been decided."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    left = undecided_items(auto, decision)
    if left:
        raise InvalidDecision("decide every match and red flag first: " + "; ".join(left))
    overridden = {o.dimension for o in (decision.overrides if decision else [])}
    if auto is None and not overridden >= set(DIMENSIONS):
        raise InvalidDecision("there is no auto-score: set every dimension by hand first")
    before = decision_state(decision)
    decision = _ensure_decision(session, submission, decision, auto, user)
    decision.status = DecisionStatus.final
    decision.finalized_at = utcnow()
    decision.finalized_by_id = user.id
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "grade.finalized",
        {"status": before["status"], "total": before["total"]},
        {
            "status": "final",
            "total": decision.total,
            "dimensions": decision.dimensions,
            "version": decision.version,
        },
    )
    return decision


def reopen(
    session: Session, submission_id: int, user: User, *, version: int, reason: str
) -> GradeDecision:
    """Take back a signature (admins): the grade is open again, with the reason on record."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidDecision("write why the grade is reopened")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidDecision(f"the reason is longer than {MAX_REASON_CHARS} characters")
    decision = get_decision(session, submission.id, for_update=True)
    if decision is None or decision.status is not DecisionStatus.final:
        raise InvalidDecision("only a final grade can be reopened")
    if decision.version != version:
        raise DecisionConflict(
            f"The grade changed since you loaded it (version {version}, now {decision.version}); "
            "nothing was reopened.",
            submission_id=submission.id,
        )
    before = {
        "status": "final",
        "total": decision.total,
        "version": decision.version,
        "finalized_by_id": decision.finalized_by_id,
        "finalized_at": decision.finalized_at,
    }
    auto = latest_auto_score(session, submission.id)  # before any change: a query autoflushes
    decision.status = DecisionStatus.open
    decision.finalized_at = None
    decision.finalized_by_id = None
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "grade.reopened",
        before,
        {"status": "open", "reason": reason, "version": decision.version},
    )
    return decision


def current_state(session: Session, submission_id: int) -> dict[str, Any]:
    """The saved decisions and the grade as it stands, for API answers and conflicts."""
    submission = get_submission(session, submission_id)
    auto = latest_auto_score(session, submission.id)
    decision = get_decision(session, submission.id)
    now = recompute(submission, auto, decision)
    state = decision_state(decision)
    state.update(
        {
            "submission": submission.id,
            "dimensions": now.dimensions,
            "sources": now.sources,
            "total": now.total,
            "auto_total": auto.total if auto else None,
            "undecided": undecided_items(auto, decision),
        }
    )
    return state
