"""Item analysis of one assessment version: how each seeded bug and decoy performs.

A submission's *score* is its signed-off total when a grader finalized it and its newest
auto-score otherwise. *Confirmed* finds are the matches a finalized grade kept or added; the
agreement figures compare the auto-score with the finalized grade of the same submission.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.assessments.models import AssessmentVersion
from app.reviews import service as review_service
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade
from app.submissions.models import Submission, SubmissionStatus

DIMENSIONS = ("detection", "severity", "tradeoffs", "tool_taste")
SEVERITIES = ("critical", "major", "minor", "nit", "none")
# The rubric's anchors are 0, 25, 50, 75 and 100; agreement in QWK is on those five levels.
QWK_LEVELS = 5
TOTAL_BINS = tuple(range(0, 100, 10))
# Fewer pairs than this make a correlation meaningless (two points always lie on a line).
MIN_CORRELATION_PAIRS = 3


@dataclass
class Sample:
    """What the analysis needs of one submitted review."""

    submission_id: int
    auto_total: float | None
    auto_dimensions: dict[str, float]
    auto_bugs: dict[str, int]  # bug -> first comment that found it
    final: bool
    final_total: float | None
    final_dimensions: dict[str, float]
    human_bugs: dict[str, int]  # after the grader's decisions (final grades only)
    false_alarms: set[str]
    severities: list[str | None]
    minutes: float | None

    @property
    def score(self) -> float | None:
        """The signed-off total where final, else the auto total."""
        return self.final_total if self.final else self.auto_total

    @property
    def found(self) -> dict[str, int]:
        """Bugs found as the score counts them: the grader's when final, else the auto ones."""
        return self.human_bugs if self.final else self.auto_bugs


@dataclass(frozen=True)
class BugItem:
    """One seeded bug's statistics."""

    key: str
    title: str
    rank: int
    subtle: bool
    found_auto: float | None
    found_confirmed: float | None
    discrimination: float | None
    severities: dict[str, int]
    median_position: float | None


@dataclass(frozen=True)
class DecoyItem:
    """One decoy's false-alarm rate."""

    key: str
    false_alarms: int
    rate: float | None


@dataclass(frozen=True)
class Agreement:
    """Auto-score against the finalized grade for one dimension or the total."""

    name: str
    pairs: int
    mae: float | None
    qwk: float | None


@dataclass
class Analysis:
    """Everything the item-analysis page shows."""

    submissions: int
    scored: int
    finalized: int
    bugs: list[BugItem] = field(default_factory=list)
    decoys: list[DecoyItem] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    histogram: list[tuple[str, int]] = field(default_factory=list)
    agreement: list[Agreement] = field(default_factory=list)
    match_precision: float | None = None
    match_recall: float | None = None
    auto_final_totals: list[tuple[float, float]] = field(default_factory=list)
    minutes: list[float] = field(default_factory=list)
    time_limit: int = 0

    @property
    def discriminating(self) -> bool:
        """Whether there are enough scores for a correlation (see `pearson`)."""
        return len(self.totals) >= MIN_CORRELATION_PAIRS

    @property
    def median_minutes(self) -> float | None:
        """The median time from start to submission, in minutes."""
        return round(statistics.median(self.minutes), 1) if self.minutes else None


def _first_finds(pairs: Sequence[tuple[str, int]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for bug, comment in pairs:
        found.setdefault(bug, comment)
    return found


def load_samples(session: Session, version: AssessmentVersion) -> list[Sample]:
    """Every submitted review of `version` with its newest auto-score and its grade."""
    submissions = list(
        session.scalars(
            select(Submission)
            .where(
                Submission.version_id == version.id,
                Submission.status != SubmissionStatus.in_progress,
            )
            .options(selectinload(Submission.comments))
            .order_by(Submission.id)
        )
    )
    ids = [s.id for s in submissions]
    autos: dict[int, AutoScore] = {}
    for score in session.scalars(
        select(AutoScore).where(AutoScore.submission_id.in_(ids)).order_by(AutoScore.id)
    ):
        autos[score.submission_id] = score  # the newest wins
    decisions = {
        d.submission_id: d
        for d in session.scalars(
            select(GradeDecision)
            .where(GradeDecision.submission_id.in_(ids))
            .options(selectinload(GradeDecision.match_decisions))
        )
    }
    samples = []
    for submission in submissions:
        auto: AutoScore | None = autos.get(submission.id)
        decision = decisions.get(submission.id)
        final = decision is not None and decision.status == DecisionStatus.final
        human = review_service.effective_matches(auto, decision) if final else []
        final_dimensions: dict[str, float] = {}
        if final and decision is not None:
            recomputed = review_service.recompute(submission, auto, decision)
            final_dimensions = dict(recomputed.dimensions)
        minutes = None
        if submission.submitted_at is not None:
            minutes = (submission.submitted_at - submission.started_at).total_seconds() / 60
        samples.append(
            Sample(
                submission_id=submission.id,
                auto_total=float(auto.total) if auto else None,
                auto_dimensions={k: float(v) for k, v in (auto.dimensions if auto else {}).items()},
                auto_bugs=_first_finds(review_service.auto_matches(auto)),
                final=final,
                final_total=float(decision.total)
                if final and decision is not None and decision.total is not None
                else None,
                final_dimensions=final_dimensions,
                human_bugs=_first_finds(human),
                false_alarms={f.decoy for f in stored_grade(auto).false_alarms} if auto else set(),
                severities=[c.severity for c in submission.comments],
                minutes=max(0.0, minutes) if minutes is not None else None,
            )
        )
    return samples


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The correlation of two equally long series; None when either does not vary."""
    if len(xs) < MIN_CORRELATION_PAIRS or len(xs) != len(ys):
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return round(sxy / math.sqrt(sxx * syy), 3)


def level(score: float) -> int:
    """A 0..100 score as one of the rubric's five anchor levels."""
    return min(QWK_LEVELS - 1, max(0, round(score / (100 / (QWK_LEVELS - 1)))))


def quadratic_kappa(a: Sequence[int], b: Sequence[int], levels: int = QWK_LEVELS) -> float | None:
    """Cohen's kappa with quadratic weights; None with no pairs or when it is undefined."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = Counter(zip(a, b, strict=True))
    hist_a, hist_b = Counter(a), Counter(b)
    num = den = 0.0
    for i in range(levels):
        for j in range(levels):
            weight = (i - j) ** 2 / (levels - 1) ** 2
            num += weight * observed.get((i, j), 0) / n
            den += weight * hist_a.get(i, 0) * hist_b.get(j, 0) / (n * n)
    if den == 0:
        return 1.0 if num == 0 else None
    return round(1 - num / den, 3)


def _share(count: int, of: int) -> float | None:
    return round(count / of, 3) if of else None


def _bug_weight(subtle: bool) -> float:
    return 2.0 if subtle else 1.0


def analyse(session: Session, version: AssessmentVersion) -> Analysis:
    """The item analysis of one version over every review submitted on it."""
    samples = load_samples(session, version)
    scored = [s for s in samples if s.auto_total is not None]
    finals = [s for s in samples if s.final and s.final_total is not None]
    counted = [s for s in samples if s.score is not None]
    result = Analysis(
        submissions=len(samples),
        scored=len(scored),
        finalized=len(finals),
        time_limit=version.time_limit_minutes,
    )
    weights = version.rubric or {}
    weight_sum = sum(float(weights.get(d, 0)) for d in DIMENSIONS) or 1.0
    detection_share = float(weights.get("detection", 0)) / weight_sum
    key_weight = sum(_bug_weight(b.subtle) for b in version.bugs) or 1.0
    for bug in sorted(version.bugs, key=lambda b: (b.rank, b.key)):
        # The points finding this bug adds to a total; the rest of the score excludes them.
        worth = 100 * detection_share * _bug_weight(bug.subtle) / key_weight
        found = [1.0 if bug.key in s.found else 0.0 for s in counted]
        rest = [float(s.score or 0) - f * worth for s, f in zip(counted, found, strict=True)]
        severities: Counter[str] = Counter()
        positions = []
        for s in counted:
            comment = s.found.get(bug.key)
            if comment is None:
                continue
            given = s.severities[comment] if 0 <= comment < len(s.severities) else None
            severities[given or "none"] += 1
            order = sorted(s.found, key=lambda k: (s.found[k] < 0, s.found[k], k))
            positions.append(order.index(bug.key) + 1)
        result.bugs.append(
            BugItem(
                key=bug.key,
                title=bug.title,
                rank=bug.rank,
                subtle=bug.subtle,
                found_auto=_share(sum(bug.key in s.auto_bugs for s in scored), len(scored)),
                found_confirmed=_share(sum(bug.key in s.human_bugs for s in finals), len(finals)),
                discrimination=pearson(found, rest),
                severities={k: severities.get(k, 0) for k in SEVERITIES},
                median_position=float(statistics.median(positions)) if positions else None,
            )
        )
    for decoy in sorted(version.decoys, key=lambda d: d.key):
        alarms = sum(decoy.key in s.false_alarms for s in scored)
        result.decoys.append(DecoyItem(decoy.key, alarms, _share(alarms, len(scored))))
    result.totals = [float(s.score) for s in counted if s.score is not None]
    result.histogram = [
        (
            f"{low}-{low + 10}",
            sum(1 for t in result.totals if low <= t < low + 10 or (low == 90 and t == 100)),
        )
        for low in TOTAL_BINS
    ]
    for name in (*DIMENSIONS, "total"):
        pairs = [
            (s.auto_total, s.final_total)
            if name == "total"
            else (s.auto_dimensions.get(name), s.final_dimensions.get(name))
            for s in finals
        ]
        kept = [(float(a), float(b)) for a, b in pairs if a is not None and b is not None]
        result.agreement.append(
            Agreement(
                name=name,
                pairs=len(kept),
                mae=round(statistics.fmean(abs(a - b) for a, b in kept), 2) if kept else None,
                qwk=quadratic_kappa([level(a) for a, _ in kept], [level(b) for _, b in kept]),
            )
        )
    auto_pairs = {(s.submission_id, bug) for s in finals for bug in s.auto_bugs}
    human_pairs = {(s.submission_id, bug) for s in finals for bug in s.human_bugs}
    agreed = len(auto_pairs & human_pairs)
    result.match_precision = _share(agreed, len(auto_pairs))
    result.match_recall = _share(agreed, len(human_pairs))
    result.auto_final_totals = [
        (float(s.auto_total), float(s.final_total))
        for s in finals
        if s.auto_total is not None and s.final_total is not None
    ]
    result.minutes = [round(s.minutes, 1) for s in samples if s.minutes is not None]
    return result
