"""The `Grader`: trained models plus the per-assessment caches, and the grading pipeline."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from grading import scoring
from grading.analysis import Analysis
from grading.classification import FLAG_CLASSES, CommentClassifier
from grading.index import ORDER_STEMS, AssessmentIndex, build_index
from grading.matching import FEATURES, SUMMARY, F, PairScorer, unit_features
from grading.models import model_digest
from grading.routing import raises_problem, routing_reasons
from grading.text import join_words
from grading.types import (
    COMMENT_KINDS,
    DIMENSIONS,
    AnswerKey,
    Assessment,
    CommentLabel,
    DimensionEvidence,
    Evidence,
    FalseAlarm,
    Grade,
    Match,
    MatchEvidence,
    NearMiss,
    Point,
    RedFlag,
    Review,
    SeededBug,
    comment_label,
)
from grading.units import TextMemo, Unit, classify_units, review_units

NEAR_MISS_COLUMNS = [
    F[name]
    for name in (
        "in_range",
        "same_file",
        "best_text_bug",
        "phrase_cover",
        "title_cover",
        "wrong_file",
        "line_distance",
    )
]
INDEX_CACHE_SIZE = 64
SUMMARY_LAST = 1 << 30  # where the summary sits among a review's comments: after them all
CHUNK = 256
# Distinct texts a batch remembers across its chunks (see `TextMemo`), some 5 KB each.
MEMO_TEXTS = 4096


@dataclass(frozen=True)
class GraderSettings:
    """Decision thresholds of a `Grader`; the defaults are the documented behaviour.

    Parameters
    ----------
    match_threshold
        A unit finds a bug when the match model's probability reaches this.
    uncertain
        A found or missed bug whose best probability falls inside this band needs review.
    boundaries
        Totals where a hiring decision flips; a total within `boundary_margin` of one needs
        review.
    boundary_margin
        Half-width of the band around each boundary.
    tradeoff_threshold, flag_threshold
        Probabilities from which a comment counts as weighing a tradeoff / showing a red flag.
    priority_threshold
        Match probability from which a summary sentence stating a priority names a bug.
    flag_sure
        A `rewrite` or `framework` flag raised with less confidence than this needs review;
        a surer one is shown for confirmation only.
    question_unsure
        `no_questions` needs review when some comment or summary sentence is a question with
        at least this probability (the flag may be wrong); below it the flag is sure.
    question_find
        A comment credited with a find that the classifier reads as a question with at least
        this confidence, and that states no defect or correction, only asks: whether it found
        the bug is for a human to say.
    """

    # `uncertain`, `boundary_margin`, `flag_sure` and `question_unsure` were calibrated on
    # leave-one-assessment-out grades of the prose and terse corpora (python and java
    # assessments, full and terse keys): the most reviews graded without a human while the
    # wrong matches per such review stay under 0.05.
    match_threshold: float = 0.5
    uncertain: tuple[float, float] = (0.3, 0.8)
    boundaries: tuple[float, ...] = (50.0, 70.0)
    boundary_margin: float = 1.0
    tradeoff_threshold: float = 0.5
    flag_threshold: float = 0.5
    priority_threshold: float = 0.25
    flag_sure: float = 0.6
    question_unsure: float = 0.35
    question_find: float = 0.9


@dataclass
class _Decisions:
    """What the grader decided about one review's comments, before any dimension is scored."""

    labels: list[CommentLabel]  # each comment's kind, in the candidate's order
    rows_of: dict[int, list[int]]  # comment (or SUMMARY) -> its rows in the analysis
    found: dict[str, int]  # bug id -> the comment credited with finding it
    matches: list[Match]
    explained: list[tuple[int, int]]  # (row, bug column) behind each match, for evidence

    @property
    def summary_rows(self) -> list[int]:
        """The rows of the summary's sentences."""
        return self.rows_of.get(SUMMARY, [])


class Grader:
    """Trained models and caches; grades reviews of any assessment from its answer key.

    Parameters
    ----------
    classifier
        A fitted `CommentClassifier`.
    match_model
        A fitted `MatchModel`.
    background
        Stem weights learned from review comments in general (see `build_index`).
    settings
        Decision thresholds.
    tradeoff_model, taste_model
        Optional learned choice of the tradeoff and tool-taste anchor levels from review-level
        signals; without them the rubric's rules of thumb decide alone.
    """

    def __init__(
        self,
        classifier: CommentClassifier,
        match_model: PairScorer,
        *,
        background: Mapping[str, float] | None = None,
        settings: GraderSettings | None = None,
        tradeoff_model: scoring.LevelModel | None = None,
        taste_model: scoring.LevelModel | None = None,
    ) -> None:
        self.classifier = classifier
        self.match_model = match_model
        self.background = dict(background or {})
        self.settings = settings or GraderSettings()
        self.tradeoff_model = tradeoff_model
        self.taste_model = taste_model
        self._indexes: OrderedDict[tuple[Assessment, AnswerKey], AssessmentIndex] = OrderedDict()
        self._index_lock = threading.Lock()
        # (model, signals, rule score) -> the learned level: many reviews of a batch give a
        # level model the same signals.
        self._levels: dict[tuple[object, ...], float] = {}
        # (id of the bugs, which comment finds each) -> the bugs and their detection score:
        # reviews of a batch find the same bugs with the same comments over and over. Keyed by
        # id, as hashing the bugs costs a fair share of scoring them.
        self._detections: dict[
            tuple[int, tuple[tuple[str, int], ...]],
            tuple[Sequence[SeededBug], scoring.DimensionScore],
        ] = {}

    @property
    def version(self) -> str:
        """A short digest of the trained parameters: which models produced a score."""
        return model_digest(
            self.classifier, self.match_model, self.tradeoff_model, self.taste_model
        )

    def index(self, assessment: Assessment, answer_key: AnswerKey) -> AssessmentIndex:
        """The cached matching state for one assessment and answer key."""
        key = (assessment, answer_key)
        with self._index_lock:
            found = self._indexes.get(key)
            if found is not None:
                self._indexes.move_to_end(key)
                return found
        built = build_index(assessment, answer_key, background=self.background)
        with self._index_lock:
            self._indexes[key] = built
            while len(self._indexes) > INDEX_CACHE_SIZE:
                self._indexes.popitem(last=False)
        return built

    def grade(self, review: Review, assessment: Assessment, answer_key: AnswerKey) -> Grade:
        """Grade one review.

        Parameters
        ----------
        review
            The candidate's review (see `parse_review`).
        assessment, answer_key
            What the review is about, as `load_assessment` and `load_answer_key` return them.

        Returns
        -------
        Grade
            Scores per FORMATS.md section 4, with `evidence`.
        """
        return self.grade_many([review], assessment, answer_key)[0]

    def grade_many(
        self,
        reviews: Sequence[Review],
        assessment: Assessment,
        answer_key: AnswerKey,
        *,
        chunk: int = CHUNK,
    ) -> list[Grade]:
        """Grade a batch of reviews of one assessment; vectorised across the batch."""
        grades: list[Grade] = []
        memo: TextMemo = {}
        for start in range(0, len(reviews), chunk):
            memo = _room(memo)
            batch = reviews[start : start + chunk]
            grades.extend(self._grade_chunk(batch, assessment, answer_key, memo))
        return grades

    def iter_grade(
        self,
        reviews: Iterable[Review],
        assessment: Assessment,
        answer_key: AnswerKey,
        *,
        chunk: int = CHUNK,
    ) -> Iterable[Grade]:
        """Grade a stream of reviews chunk by chunk, yielding grades in order."""
        batch: list[Review] = []
        memo: TextMemo = {}
        for review in reviews:
            batch.append(review)
            if len(batch) >= chunk:
                memo = _room(memo)
                yield from self._grade_chunk(batch, assessment, answer_key, memo)
                batch = []
        if batch:
            yield from self._grade_chunk(batch, assessment, answer_key, _room(memo))

    # -- pipeline --------------------------------------------------------------------------

    def analyse(
        self, reviews: Sequence[Review], index: AssessmentIndex, memo: TextMemo | None = None
    ) -> list[Analysis]:
        """Run the classifier and the matcher over a batch; one analysis per review.

        A text met again, in this batch or an earlier one sharing `memo`, is read once.
        """
        memo = {} if memo is None else memo
        per_review = [review_units(r, index, memo=memo) for r in reviews]
        units = [u for us in per_review for u in us]
        preds = classify_units(self.classifier, units)
        features = unit_features(units, index, preds.kind_proba, preds.flag_proba)
        proba = (
            self.match_model.predict_proba(features)
            if len(units)
            else np.zeros((0, len(index.bugs)))
        )
        # RUBRIC.md: a find says what is wrong. Unease that names no cause ("this lock looks
        # sus") finds nothing, however well it points or shares the key's words.
        vague = [r for r, unit in enumerate(units) if unit.vague]
        if vague:
            proba[vague] = 0.0
        # What each review's scoring reads unit by unit, decided here for the whole batch in a
        # few array operations rather than in as many for every review.
        kinds = self.classifier.decide(preds.kind_proba).tolist()
        firsts = iter(self._first_finders(per_review, proba))
        finds: list[bool] = np.asarray(
            (proba >= self.settings.match_threshold).any(axis=1)
        ).tolist()
        flags: list[int] = np.argmax(preds.flag_proba, axis=1).tolist()
        replacing: list[float] = preds.flag_proba[:, 1:].sum(axis=1).tolist()
        summary_kinds = iter(self._summary_kinds(per_review, preds.kind_proba))
        out = []
        start = 0
        for us in per_review:
            stop = start + len(us)
            out.append(
                Analysis(
                    us,
                    features[start:stop],
                    proba[start:stop],
                    preds.kind_proba[start:stop],
                    preds.tradeoff_proba[start:stop],
                    preds.flag_proba[start:stop],
                    kinds[start:stop],
                    next(firsts) if us else [],
                    finds[start:stop],
                    flags[start:stop],
                    replacing[start:stop],
                    next(summary_kinds),
                )
            )
            start = stop
        return out

    def _summary_kinds(
        self, per_review: Sequence[list[Unit]], kind_proba: np.ndarray
    ) -> list[int | None]:
        """For each review, the kind of its summary as a whole: that of the mean reading of its
        sentences (the last units of the review), None without one. The sums are taken in one
        reduction over the batch, row after row as a mean over each review's rows adds them."""
        bounds: list[int] = []  # each summary's first row and the row after its last
        has_summary: list[bool] = []
        stop = 0
        for us in per_review:
            stop += len(us)
            sentences = sum(1 for u in us if u.comment == SUMMARY)
            has_summary.append(sentences > 0)
            if sentences:
                bounds += [stop - sentences, stop]
        if not bounds:
            return [None] * len(per_review)
        # A zero row after the batch, so that a summary ending the batch has a row after it.
        padded = np.vstack([kind_proba, np.zeros((1, kind_proba.shape[1]))])
        sums = np.add.reduceat(padded, bounds, axis=0)[::2]
        counts = np.diff(np.array(bounds, dtype=np.int64).reshape(-1, 2), axis=1)
        decided = iter(self.classifier.decide(sums / counts).tolist())
        return [next(decided) if has else None for has in has_summary]

    def _first_finders(
        self, per_review: Sequence[list[Unit]], proba: np.ndarray
    ) -> list[list[int]]:
        """For each review with units, per bug the position of the first comment finding it
        (SUMMARY_LAST for the summary, more when none does): one reduction over the batch."""
        starts = np.cumsum([0] + [len(us) for us in per_review[:-1]])
        starts = starts[[bool(us) for us in per_review]]
        if not len(starts):
            return []
        order = np.array(
            [u.comment if u.comment != SUMMARY else SUMMARY_LAST for us in per_review for u in us],
            dtype=np.int64,
        )
        passing = proba >= self.settings.match_threshold
        candidates = np.where(passing, order[:, None], SUMMARY_LAST + 1)
        firsts: list[list[int]] = np.minimum.reduceat(candidates, starts, axis=0).tolist()
        return firsts

    def _grade_chunk(
        self,
        reviews: Sequence[Review],
        assessment: Assessment,
        answer_key: AnswerKey,
        memo: TextMemo,
    ) -> list[Grade]:
        index = self.index(assessment, answer_key)
        analyses = self.analyse(reviews, index, memo)
        return [self._score(r, a, index) for r, a in zip(reviews, analyses, strict=True)]

    def decide_matches(self, analysis: Analysis, index: AssessmentIndex) -> dict[str, int]:
        """Bug id -> the first comment (or -1, the summary) whose probability passes."""
        if not analysis.units:
            return {}
        first = analysis.first
        return {
            bug.id: SUMMARY if first[j] == SUMMARY_LAST else first[j]
            for j, bug in enumerate(index.bugs)
            if first[j] <= SUMMARY_LAST
        }

    def _score(self, review: Review, a: Analysis, index: AssessmentIndex) -> Grade:
        """One review's grade from what the models said about it, stage by stage.

        Decide the comments' kinds and which comment finds which bug; read the candidate's
        order of urgency; score the four dimensions and the total; raise red flags; list near
        misses and false alarms; decide whether a human must look; assemble the grade.
        """
        settings = self.settings
        d = self._decide(review, a, index)
        items, priority = _urgency_items(review, a, index, d, settings)
        views = self._views(review, a, d.labels, d.summary_rows)
        dims = self._dimensions(index, d, items, priority, views)
        scores = {name: _clip(dim.score) for name, dim in dims.items()}
        total = _clip(index.assessment.rubric.total(scores))
        flags = self._red_flags(a, d, views)
        near_misses = self._near_misses(a, index, d.found, d.labels)
        false_alarms = self._false_alarms(a, index, d.labels)
        reasons = routing_reasons(
            review,
            a,
            index,
            settings,
            found=d.found,
            labels=d.labels,
            flags=flags,
            views=views,
            near_misses=near_misses,
            total=total,
        )

        def evidence() -> Evidence:
            return Evidence(
                dimensions=tuple(
                    DimensionEvidence(name, scores[name], tuple(dims[name].points))
                    for name in DIMENSIONS
                ),
                matches=tuple(self._explain_match(a, r, j, index, review) for r, j in d.explained),
                flags=tuple(
                    (f.kind, f.comment, _flag_explanation(f.kind, f.comment, f.evidence))
                    for f in flags
                ),
                review_reasons=tuple(reasons),
                summary_priority=tuple(priority),
            )

        return Grade(
            id=review.id,
            total=total,
            dimensions=tuple((name, scores[name]) for name in DIMENSIONS),
            matches=tuple(d.matches),
            red_flags=tuple(flags),
            comments=tuple(d.labels),
            near_misses=tuple(near_misses),
            false_alarms=tuple(false_alarms),
            needs_review=bool(reasons),
            evidence_source=evidence,
        )

    def _labels(self, review: Review, a: Analysis) -> list[CommentLabel]:
        """Each comment's kind and tradeoff reading, from its own unit (the first units)."""
        n_comments = len(review.comments)
        kinds = a.kinds[:n_comments]
        proba = a.kind_proba[:n_comments].tolist()
        tradeoff = a.tradeoff[:n_comments].tolist()
        bar = self.settings.tradeoff_threshold
        return [
            CommentLabel(COMMENT_KINDS[j], proba[i][j], tradeoff[i] >= bar)
            for i, j in enumerate(kinds)
        ]

    def _decide(self, review: Review, a: Analysis, index: AssessmentIndex) -> _Decisions:
        """Label the comments and credit each found bug to a comment and one unit of it."""
        threshold = self.settings.match_threshold
        rows_of: dict[int, list[int]] = {}
        for r, unit in enumerate(a.units):
            rows_of.setdefault(unit.comment, []).append(r)
        found = self.decide_matches(a, index)
        matches = []
        explained: list[tuple[int, int]] = []
        proba: list[list[float]] = a.proba.tolist() if found else []
        for j, bug in enumerate(index.bugs):
            if bug.id not in found:
                continue
            comment = found[bug.id]
            rows = [r for r in rows_of[comment] if proba[r][j] >= threshold]
            # The summary's first passing sentence; a comment's surest unit (whole or part).
            row = rows[0] if comment == SUMMARY else max(rows, key=lambda r: proba[r][j])
            matches.append(Match(bug.id, comment, proba[row][j]))
            explained.append((row, j))
        return _Decisions(self._labels(review, a), rows_of, found, matches, explained)

    def _dimensions(
        self,
        index: AssessmentIndex,
        d: _Decisions,
        items: Sequence[scoring.Item],
        priority: Sequence[str],
        views: Sequence[scoring.CommentView],
    ) -> dict[str, scoring.DimensionScore]:
        """The four rubric dimensions; the level models, when trained, pick two levels."""
        settings = self.settings
        rewrite = any(
            v.flag == "rewrite" and v.flag_confidence >= settings.flag_threshold for v in views
        )
        det = self._detection(d.found, index.bugs)
        sev = scoring.severity(items, d.found, index.bugs, list(priority))
        tra = scoring.tradeoffs(views, threshold=settings.tradeoff_threshold, rewrite=rewrite)
        taste = scoring.tool_taste(views, flag_threshold=settings.flag_threshold)
        if self.tradeoff_model is not None and not rewrite:
            signals = scoring.tradeoff_features(views, threshold=settings.tradeoff_threshold)
            tra = _learned_level(
                tra, self.tradeoff_model, signals, scoring.TRADEOFF_FEATURES, self._levels
            )
        if self.taste_model is not None and taste.score > 0.0:
            signals = scoring.taste_features(views, flag_threshold=settings.flag_threshold)
            taste = _learned_level(
                taste, self.taste_model, signals, scoring.TASTE_FEATURES, self._levels
            )
        return {"detection": det, "severity": sev, "tradeoffs": tra, "tool_taste": taste}

    def _detection(
        self, found: Mapping[str, int], bugs: Sequence[SeededBug]
    ) -> scoring.DimensionScore:
        """`scoring.detection`, remembered per bugs and finds (a grader's lifetime)."""
        key = (id(bugs), tuple(found.items()))
        known = self._detections.get(key)
        if known is None or known[0] is not bugs:
            if len(self._detections) >= MEMO_TEXTS:
                self._detections.clear()
            known = self._detections[key] = (bugs, scoring.detection(found, bugs))
        score = known[1]
        return scoring.DimensionScore(score.score, list(score.points))

    def _red_flags(
        self, a: Analysis, d: _Decisions, views: Sequence[scoring.CommentView]
    ) -> list[RedFlag]:
        """RUBRIC.md's red flags; a question anywhere, summary sentences included, counts."""
        asked = any(lab.kind == "question" for lab in d.labels) or any(
            float(a.kind_proba[r, 2]) >= 0.5 for r in d.summary_rows
        )
        return scoring.red_flags(
            views,
            found_any=bool(d.found),
            asked_question=asked,
            flag_threshold=self.settings.flag_threshold,
        )

    def dimension_signals(
        self, reviews: Sequence[Review], assessment: Assessment, answer_key: AnswerKey
    ) -> list[tuple[list[float], list[float]]]:
        """(tradeoff, tool-taste) review-level signals, to train the level models on."""
        index = self.index(assessment, answer_key)
        out = []
        for review, a in zip(reviews, self.analyse(reviews, index), strict=True):
            labels = self._labels(review, a)
            summary_rows = [r for r, u in enumerate(a.units) if u.comment == SUMMARY]
            views = self._views(review, a, labels, summary_rows)
            out.append(
                (
                    scoring.tradeoff_features(views, threshold=self.settings.tradeoff_threshold),
                    scoring.taste_features(views, flag_threshold=self.settings.flag_threshold),
                )
            )
        return out

    def _views(
        self,
        review: Review,
        a: Analysis,
        labels: Sequence[CommentLabel],
        summary_rows: Sequence[int],
    ) -> list[scoring.CommentView]:
        flags = a.flags
        flag_proba: list[list[float]] = a.flag_proba.tolist()
        tradeoff: list[float] = a.tradeoff.tolist()
        views = [
            scoring.CommentView(
                i,
                a.units[i].text,
                label.kind,
                tradeoff[i],
                FLAG_CLASSES[flags[i]],
                flag_proba[i][flags[i]],
                review.comments[i].severity,
                cues=a.units[i].read.cues,  # a cue depends on the text alone
            )
            for i, label in enumerate(labels)
        ]
        if summary_rows:
            trade = max(tradeoff[r] for r in summary_rows)
            # The surest rewrite or framework reading of any sentence; the first on a tie.
            r, f = max(
                ((r, f) for r in summary_rows for f in range(1, len(FLAG_CLASSES))),
                key=lambda sentence_flag: flag_proba[sentence_flag[0]][sentence_flag[1]],
            )
            flag = FLAG_CLASSES[f]
            flag_conf = flag_proba[r][f]
            assert a.summary_kind is not None  # the summary has sentences: it was decided
            kind = COMMENT_KINDS[a.summary_kind]
            views.append(scoring.CommentView(SUMMARY, review.summary, kind, trade, flag, flag_conf))
        return views

    def _near_misses(
        self,
        a: Analysis,
        index: AssessmentIndex,
        found: Mapping[str, int],
        labels: Sequence[CommentLabel],
    ) -> list[NearMiss]:
        n = len(labels)
        raising = [
            i for i, label in enumerate(labels) if raises_problem(label, a.units[i], a.replacing[i])
        ]
        if not raising:
            return []
        finds: list[list[bool]] = (a.proba[:n] >= self.settings.match_threshold).tolist()
        signals = a.features[:n][:, :, NEAR_MISS_COLUMNS].tolist()
        out: list[NearMiss] = []
        for i in raising:
            finds_any = any(finds[i])
            for j, bug in enumerate(index.bugs):
                if finds[i][j]:
                    continue
                in_range, same_file, best, phrase, title, wrong_file, distance = signals[i][j]
                on_lines = in_range > 0 and same_file > 0
                about = best > 0 and (phrase >= 0.5 or title >= 0.4)
                # A bug credited elsewhere has no near miss: nothing was missed.
                if on_lines and not finds_any and not about and bug.id not in found:
                    out.append(NearMiss(bug.id, i, "misdiagnosed"))
                elif about and (wrong_file > 0 or distance > 0.6) and (bug.id not in found):
                    out.append(NearMiss(bug.id, i, "misplaced"))
        return out

    def _false_alarms(
        self, a: Analysis, index: AssessmentIndex, labels: Sequence[CommentLabel]
    ) -> list[FalseAlarm]:
        out = []
        for i, label in enumerate(labels):
            if label.kind != "defect" or a.finds[i]:
                continue
            unit = a.units[i]
            if unit.start is None or unit.end is None:
                continue
            for decoy in index.decoy_targets:
                if (
                    decoy.ranges
                    and unit.file_index in (decoy.file_index, -1)
                    and min(r.distance(unit.start, unit.end) for r in decoy.ranges) == 0
                ):
                    out.append(FalseAlarm(decoy.id, i))
                    break
        return out

    def _explain_match(
        self, a: Analysis, row: int, j: int, index: AssessmentIndex, review: Review
    ) -> MatchEvidence:
        unit = a.units[row]
        bug = index.bugs[j]
        f = a.features[row, j]
        contrib = self.match_model.contributions(f)
        top = sorted(range(len(FEATURES)), key=lambda k: (-abs(contrib[k]), k))[:6]
        signals = tuple((FEATURES[k], float(f[k])) for k in top)
        shared = _shared_words(unit, index, j)
        idents = sorted(unit.facts.identifiers & index.bug_identifiers[j])[:6]
        where = comment_label(unit.comment)
        parts = [where]
        comment = review.comments[unit.comment] if unit.comment != SUMMARY else None
        ranges = ", ".join(
            f"{r.start}-{r.end}" if r.start != r.end else f"{r.start}" for r in bug.lines
        )
        if comment is not None and comment.line is not None:
            span = (
                f"{comment.line}"
                if not comment.end_line or comment.end_line == comment.line
                else f"{comment.line}-{comment.end_line}"
            )
            place = f"{comment.file or '(no file)'}:{span}"
            if f[F["in_range"]] > 0:
                parts.append(f"points at {place}, inside the bug's lines {ranges}")
            elif f[F["near_range"]] > 0:
                parts.append(f"points at {place}, a few lines from the bug's lines {ranges}")
            elif f[F["wrong_file"]] > 0:
                parts.append(f"points at {place}, but the bug is in {bug.file}")
            else:
                parts.append(f"points at {place}, away from the bug's lines {ranges}")
        elif comment is not None:
            parts.append("has no line anchor")
        if shared:
            parts.append(f"shares {join_words(shared)} with the bug's description")
        if idents:
            parts.append(f"names {join_words(idents)} from the bug's code")
        explanation = "; ".join([" ".join(parts[:2]), *parts[2:]]) if len(parts) > 1 else where
        explanation += f" (confidence {float(a.proba[row, j]):.2f})"
        return MatchEvidence(
            bug.id,
            unit.comment,
            float(a.proba[row, j]),
            signals,
            tuple(shared + idents),
            explanation,
        )


def _urgency_items(
    review: Review,
    a: Analysis,
    index: AssessmentIndex,
    d: _Decisions,
    settings: GraderSettings,
) -> tuple[list[scoring.Item], list[str]]:
    """The candidate's items of urgency and the bugs a priority statement in the summary names.

    Items are the problem-raising comments, then the summary as one item, each with the bugs it
    finds in the order its text mentions them (RUBRIC.md, Severity ranking).
    """
    threshold = settings.match_threshold
    # Most comments find nothing: they mention no bug, and need no look at where they do.
    finding = a.finds
    proba: list[list[float]] = a.proba.tolist()
    items = []
    for i, label in enumerate(d.labels):
        rows = d.rows_of[i]
        finds = (
            _mentioned(a, proba, index, d.found, rows, threshold=threshold)
            if any(finding[r] for r in rows)
            else ()
        )
        if scoring.raises_problem(label.kind, finds):
            items.append(scoring.Item(i, review.comments[i].severity, finds))
    if review.summary.strip():
        summary = _mentioned(a, proba, index, d.found, d.summary_rows, threshold=threshold)
        items.append(scoring.Item(SUMMARY, None, summary))
    priority: list[str] = []
    if scoring.has_priority_statement(review.summary):
        # Naming a bug in a priority statement needs less than finding it: the find itself
        # may sit in a comment.
        named = _mentioned(
            a,
            proba,
            index,
            d.found,
            d.summary_rows,
            threshold=threshold,
            naming=settings.priority_threshold,
        )
        priority = list(named)
    return items, priority


def _mentioned(
    a: Analysis,
    proba: Sequence[list[float]],
    index: AssessmentIndex,
    found: Mapping[str, int],
    rows: Sequence[int],
    *,
    threshold: float,
    naming: float | None = None,
) -> tuple[str, ...]:
    """Bugs the rows find, in the order the text mentions them; `proba` is `a.proba` as lists.

    With `naming` (a probability bar, see `_names`), also the bugs found elsewhere that the
    rows only name.
    """
    hits: list[tuple[int, int, int]] = []  # (order of the row, its anchor row, bug column)
    bugs = index.bugs
    for k, r in enumerate(rows):
        if naming is None and max(proba[r], default=0.0) < threshold:
            continue  # finds nothing
        # Parts of a comment are ordered by where they sit in the whole comment; summary
        # sentences by their order.
        in_summary = a.units[r].comment == SUMMARY
        anchor_row = r if in_summary else rows[0]
        for j, p in enumerate(proba[r]):
            hit = p >= threshold
            if naming is not None and not hit and bugs[j].id in found:
                hit = _names(a.features[r, j], p, naming) or _orders_by_name(a.units[r], index, j)
            if hit:
                hits.append((k if in_summary else 0, anchor_row, j))
    if len({j for _, _, j in hits}) < 2:
        # Most items find one bug or none: there is no order of mention to read.
        return tuple(dict.fromkeys(bugs[j].id for _, _, j in hits))
    named: dict[int, list[int]] = {}  # anchor row -> the bugs it names
    for _, anchor_row, j in hits:
        named.setdefault(anchor_row, []).append(j)
    where = {row: _mention_positions(a.units[row], index, js) for row, js in named.items()}
    positions = [(order, where[row][j], bugs[j].id) for order, row, j in hits]
    return tuple(dict.fromkeys(b for _, _, b in sorted(positions)))


def _room(memo: TextMemo) -> TextMemo:
    """`memo`, or a new one once it holds MEMO_TEXTS texts: memory stays bounded."""
    return memo if len(memo) < MEMO_TEXTS else {}


def _clip(score: float) -> float:
    """A score held to [0, 100]; NaN stays NaN, as with `np.clip`."""
    return min(max(float(score), 0.0), 100.0)


def _learned_level(
    rule: scoring.DimensionScore,
    model: scoring.LevelModel,
    signals: Sequence[float],
    names: Sequence[str],
    memo: dict[tuple[object, ...], float],
) -> scoring.DimensionScore:
    """Replace a rule-of-thumb level by the learned one, keeping the per-comment reasons
    (listed on first use); `memo` keeps the level per model, signals and rule score (a
    grader's lifetime)."""
    key = (model, tuple(signals), rule.score)
    known = memo.get(key)
    if known is None:
        known = model.predict(signals)
        if len(memo) >= MEMO_TEXTS:
            memo.clear()
        memo[key] = known
    level = known  # a float for good: `reasons` reads it later

    def reasons() -> list[Point]:
        why = (
            f"level {level:g}, picked by a model trained on graders' scores from what the "
            f"review does: {scoring.describe_signals(names, signals)} (the fixed rules alone "
            f"give {rule.score:g})"
        )
        kept = [Point(0.0, p.reason, p.comment, p.quote, p.signal) for p in rule.points]
        kept.append(Point(level, why, signal="level_model"))
        return kept

    return scoring.DimensionScore(level, reasons)


def _names(f: np.ndarray, p: float, bar: float) -> bool:
    """Whether a summary sentence names a bug that the review finds somewhere.

    A priority statement names bugs in a few words ("the cache key first, then the retry"):
    less than a find needs, so a weaker probability or a good share of a title or phrase do.
    """
    return bool(
        p >= bar
        or f[F["phrase_cover"]] >= 0.34
        or f[F["title_cover"]] >= 0.25
        or f[F["fuzzy_phrase"]] >= 0.8
    )


def _orders_by_name(unit: Unit, index: AssessmentIndex, j: int) -> bool:
    """Whether a sentence orders work and says a word of bug `j` that no other bug's text
    uses: "pagination first, then the zones" names both in a word each, too few for the
    covers `_names` reads."""
    stems = unit.facts.stems
    return not index.own_stems[j].isdisjoint(stems) and not ORDER_STEMS.isdisjoint(stems)


def _mention_positions(unit: Unit, index: AssessmentIndex, named: Sequence[int]) -> dict[int, int]:
    """Where in a unit each bug of `named` is first mentioned: the first word of its title or
    phrases that no other bug of `named` uses; else, after every bug placed so, the first of
    its title's or phrases' words, else of its description's, else the end of the unit.

    A word two named bugs share places neither ("cache key first, then stream retry" when
    the retry bug's phrases say "cached"), and an ordering word places none ("fix order: the
    backfill, then the citations", where the citations bug's title says "order").
    """
    known = unit.read.positions
    key = tuple(named)
    if known is not None and known[0] is index and known[1] == key:
        return known[2]
    stems = unit.facts.stems
    among = set(named)
    alone: dict[int, int] = {}
    title: dict[int, int] = {}
    desc: dict[int, int] = {}
    for position, s in enumerate(stems):
        found = index.stem_bugs.get(s)
        if found is None or s in ORDER_STEMS:
            continue
        said = [j for j in found[0] if j in among]
        for j in said:
            title.setdefault(j, position)
        if len(said) == 1:
            alone.setdefault(said[0], position)
        for j in found[1]:
            desc.setdefault(j, position)
    # A bug the unit names only in words another named bug shares comes after those it
    # names alone, in the order of those words.
    end = len(stems)
    positions = {j: alone[j] if j in alone else end + title.get(j, desc.get(j, end)) for j in named}
    unit.read.positions = (index, key, positions)
    return positions


def _shared_words(unit: Unit, index: AssessmentIndex, j: int, *, limit: int = 6) -> list[str]:
    """The comment's own words that the bug's text also uses, title and phrase words first."""
    out: list[str] = []
    keys: list[tuple[int, float]] = []
    for word, s in zip(unit.facts.words, unit.facts.stems, strict=True):
        v = index.vocab.get("s:" + s)
        if v is None or index.desc[v, j] <= 0 or word in out or len(word) < 3:
            continue
        out.append(word)
        keys.append((0 if index.title[v, j] > 0 else 1, -float(index.desc[v, j])))
    ranked = sorted(range(len(out)), key=lambda k: (keys[k], k))[:limit]
    return [out[k] for k in sorted(ranked)]


def _flag_explanation(kind: str, comment: int, evidence: str) -> str:
    where = comment_label(comment, summary="the review as a whole")
    what = {
        "rewrite": "proposes rewriting instead of fixing",
        "framework": "reaches for a heavy framework or service",
        "style_only": "raises only style points while the seeded bugs go unmentioned",
        "no_questions": "asks no clarifying question about how the system is used",
    }[kind]
    return f'{where} {what}: "{evidence}"'
