"""How a review grew: each save's shape, and a timeline of every comment for the grader.

Integrity evidence, never a score: a large paste may be the candidate's own notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.submissions.models import DraftRevision, Submission

# Text typed into a saved comment or the summary reaches the server within two seconds
# (autosave), so this much new text in one save is faster than anyone types: it was pasted.
# A new comment is written in the comment box and arrives whole when added, so its first
# save says nothing about how it was written. (A browser that was offline saves late and in
# bulk; the grader sees the evidence and judges.)
PASTE_MIN_CHARS = 100
PASTE_EXCERPT_CHARS = 300
# Saves within this time of a row's first save, that add no comment and no paste, update that
# row (which keeps its first time): the timeline is exact to this much.
MERGE_WITHIN = timedelta(seconds=20)
MAX_REVISIONS = 400
SUMMARY_ID = "summary"


def _inserted(old: str, new: str) -> str:
    """The text `new` has that `old` had not (between their common start and end)."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return new[start : len(new) - end]


def record_revision(
    session: Session,
    submission: Submission,
    *,
    before: Mapping[str, str],
    before_summary: str,
    comments: Sequence[tuple[str, str]],
    summary: str,
    now: datetime,
) -> DraftRevision:
    """Keep the shape of the draft just saved; `before` maps client ids to the old bodies."""
    # The newest row and how many there are, in one read of this submission's rows only.
    newest = session.execute(
        select(DraftRevision, func.count().over())
        .where(DraftRevision.submission_id == submission.id)
        .order_by(DraftRevision.id.desc())
        .limit(1)
    ).first()
    last, count = (newest[0], newest[1]) if newest is not None else (None, 0)
    pastes = []
    for key, old, new in [
        *((cid, before[cid], body) for cid, body in comments if cid in before),
        (SUMMARY_ID, before_summary, summary),
    ]:
        grown = len(new) - len(old)
        if grown >= PASTE_MIN_CHARS:
            text = _inserted(old, new)
            pastes.append({"id": key, "chars": grown, "text": text[:PASTE_EXCERPT_CHARS]})
    shape = [{"id": cid, "chars": len(body)} for cid, body in comments]
    merge = last is not None and (
        (
            not pastes
            and {c["id"] for c in shape} == {c["id"] for c in last.comments}
            and now - last.saved_at < MERGE_WITHIN
        )
        or (count or 0) >= MAX_REVISIONS
    )
    if merge and last is not None:
        last.revision = submission.draft_revision
        last.comments, last.summary_chars = shape, len(summary)
        last.pastes = [*last.pastes, *pastes]
        session.flush()
        return last
    row = DraftRevision(
        submission_id=submission.id,
        revision=submission.draft_revision,
        saved_at=now,
        summary_chars=len(summary),
        comments=shape,
        pastes=pastes,
    )
    session.add(row)
    session.flush()
    return row


@dataclass
class Growth:
    """One comment (or the summary) over time."""

    label: str
    appeared: float  # minutes after Start
    points: list[tuple[float, int]] = field(default_factory=list)  # (minute, characters)
    pastes: list[tuple[float, int, str]] = field(default_factory=list)  # (minute, chars, text)
    kept: bool = True  # still in the submitted review

    @property
    def chars(self) -> int:
        """Its length at the last save."""
        return self.points[-1][1] if self.points else 0


def timeline(session: Session, submission: Submission) -> list[Growth]:
    """Every comment and the summary as they grew, in the submitted order, then deleted ones."""
    rows = session.scalars(
        select(DraftRevision)
        .where(DraftRevision.submission_id == submission.id)
        .order_by(DraftRevision.saved_at, DraftRevision.id)
    ).all()
    start = submission.started_at

    def minute(at: datetime) -> float:
        return round((at - start).total_seconds() / 60.0, 1)

    grown: dict[str, Growth] = {}
    for row in rows:
        at = minute(row.saved_at)
        entries = [(c["id"], int(c["chars"])) for c in row.comments]
        entries.append((SUMMARY_ID, row.summary_chars))
        for key, chars in entries:
            if key == SUMMARY_ID and chars == 0 and key not in grown:
                continue
            item = grown.setdefault(key, Growth(label="", appeared=at))
            if not item.points or item.points[-1][1] != chars:
                item.points.append((at, chars))
        for paste in row.pastes:
            if paste["id"] in grown:
                grown[paste["id"]].pastes.append((at, int(paste["chars"]), str(paste["text"])))
    final = {c.client_id: i for i, c in enumerate(submission.comments)}
    ordered = []
    for key, index in sorted(final.items(), key=lambda kv: kv[1]):
        if key in grown:
            grown[key].label = f"Comment {index + 1}"
            ordered.append(grown.pop(key))
    if SUMMARY_ID in grown:
        grown[SUMMARY_ID].label = "Summary"
        ordered.append(grown.pop(SUMMARY_ID))
    for item in grown.values():
        item.label, item.kept = "A deleted comment", False
        ordered.append(item)
    return ordered
