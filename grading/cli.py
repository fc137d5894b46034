"""`python -m grading grade | evaluate | bench`: batch grading and measurement from a shell."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from grading.content import load_answer_key, load_assessment
from grading.errors import ContentError, GradingError, Problem
from grading.reviews import iter_review_lines
from grading.types import Review

PROGRESS_MIN_REVIEWS = 200


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """The model cache: --cache-dir, else var/cache/grading under the project root."""
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache_dir", None):
        return Path(args.cache_dir)
    from grading.training import default_root

    root = Path(args.root) if getattr(args, "root", None) else default_root()
    return root / "var" / "cache" / "grading"


class Progress:
    """A one-line progress bar on a terminal; silent when stderr is not a TTY."""

    def __init__(self, total: int, *, stream: IO[str] | None = None, label: str = "") -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        self.done = 0
        self.enabled = total >= PROGRESS_MIN_REVIEWS and self.stream.isatty()
        self._last = 0.0
        self._start = time.perf_counter()

    def advance(self, n: int = 1) -> None:
        """Count n more items; redraw at most ten times a second."""
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            rate = self.done / max(now - self._start, 1e-9)
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {rate:,.0f}/s"
            )
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _report(problem: Problem) -> None:
    print(str(problem), file=sys.stderr)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade a JSON Lines file of reviews into a JSON Lines file of scores."""
    from grading.cache import default_grader

    try:
        assessment = load_assessment(Path(args.assessment))
        answer_key = load_answer_key(Path(args.bugs), assessment)
    except ContentError as exc:
        for problem in exc.problems:
            _report(problem)
        return 2
    reviews_path = Path(args.reviews)
    if not reviews_path.is_file():
        _report(Problem(str(reviews_path), None, "", "no such file"))
        return 2
    grader = default_grader(args.root, cache_dir=_cache_dir(args))
    gc.freeze()  # the models are long-lived: keep the collector from rescanning them
    # Grading frees nearly all it allocates by reference counting: at the default pace (a
    # collection every 700 allocations) the cycle collector took some 6% of a 10,000-review
    # batch and found nothing to free.
    gc.set_threshold(100_000, 10, 10)
    bad = 0

    def good_reviews() -> Iterator[Review]:
        nonlocal bad
        for item in iter_review_lines(reviews_path, display=args.reviews):
            if item.problem is not None:
                bad += 1
                _report(item.problem)
                continue
            assert item.review is not None
            if item.review.assessment != assessment.slug:
                bad += 1
                _report(
                    Problem(
                        args.reviews,
                        item.line,
                        "assessment",
                        f"review is for {item.review.assessment!r}, not "
                        f"{assessment.slug!r}; skipped",
                    )
                )
                continue
            yield item.review

    progress = Progress(_count_lines(reviews_path), label="grading")
    out_path = Path(args.out)
    written = 0
    # One encoder for the batch: `json.dumps` with options builds a new one for every line.
    encoder = json.JSONEncoder(ensure_ascii=False)
    with out_path.open("w", encoding="utf-8") as out:
        for grade in grader.iter_grade(good_reviews(), assessment, answer_key):
            out.write(encoder.encode(grade.to_dict(explain=args.explain)) + "\n")
            written += 1
            progress.advance()
    progress.close()
    print(
        f"graded {written} review(s) into {out_path}"
        + (f"; skipped {bad} malformed line(s)" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0


def _format_evaluation(results: Sequence[Any]) -> str:
    lines = []
    header = (
        f"{'configuration':48} {'match P':>7} {'R':>6} {'F1':>6} {'tot MAE':>7} "
        f"{'tot rho':>7} {'QWK':>6} {'flag F1':>6} {'auto':>6} {'err/auto':>8} {'miss/auto':>9}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for ev in results:
        m = ev.metrics
        lines.append(
            f"{ev.name:48} {m['match']['precision']:7.3f} {m['match']['recall']:6.3f} "
            f"{m['match']['f1']:6.3f} {m['total']['mae']:7.2f} {m['total']['spearman']:7.3f} "
            f"{m['total']['qwk']:6.3f} {m['red_flags']['f1']:6.3f} "
            f"{m['auto_graded_share']:6.3f} {_number(m['wrong_matches_per_auto_review']):8.3f} "
            f"{_number(m['missed_matches_per_auto_review']):9.3f}"
        )
    lines.append("")
    for ev in results:
        m = ev.metrics
        lines.append(f"{ev.name}: {_dimension_errors(m['dimensions'])}")
        rho = ", ".join(f"{d} rho {v['spearman']:.3f}" for d, v in m["dimensions"].items())
        lines.append(f"    {rho}")
        lines.append(
            f"    red flags P {m['red_flags']['precision']:.3f} R "
            f"{m['red_flags']['recall']:.3f}; comment kind accuracy "
            f"{m['comment_kind_accuracy']}; tradeoff accuracy {m['tradeoff_accuracy']}; "
            f"match with the gold comment F1 {m['match_with_comment']['f1']:.3f}; "
            f"near misses F1 {m['near_misses']['f1']:.3f}; false alarms F1 "
            f"{m['false_alarms']['f1']:.3f}"
        )
        lines.append(
            f"    if no_questions alone did not route to a human: auto "
            f"{m['auto_graded_share_if_no_questions_did_not_route']}, err/auto "
            f"{m['wrong_matches_per_such_review']}"
        )
    lines.append("")
    lines.append(
        f"QWK: {results[0].metrics['total']['qwk_bins']}. auto = share of reviews not "
        f"needing review; err/auto = wrong matches per such review; miss/auto = finds it "
        f"missed per such review."
    )
    return "\n".join(lines)


def _dimension_errors(dimensions: dict[str, dict[str, Any]]) -> str:
    """One line: each dimension's MAE, signed bias and weighted share of the total's error."""
    return "; ".join(
        f"{d} MAE {v['mae']:.1f} bias {v['bias']:+.1f} ({v['weighted_mae']:.2f})"
        for d, v in dimensions.items()
        if v["mae"] is not None
    )


def _number(value: float | None) -> float:
    """A figure that may be undefined (no review graded without one), printed as nan."""
    return float("nan") if value is None else value


def _format_report(results: Sequence[Any]) -> str:
    """The full report: one block per row, the learned grader and each baseline beneath."""
    header = (
        f"  {'':14} {'n':>4} {'match P':>7} {'R':>6} {'F1':>6} {'kappa':>6} {'tot MAE':>7} "
        f"{'QWK':>6} {'flag F1':>7} {'auto':>6} {'err/auto':>8} {'miss/auto':>9}"
    )
    lines: list[str] = []
    current = None
    for ev in results:
        block = (ev.row, ev.tested, ev.trained)
        if block != current:
            current = block
            lines.append("")
            lines.append(f"{ev.row} | tested on {ev.tested} | trained on {ev.trained}")
            lines.append(header)
        m = ev.metrics
        lines.append(
            f"  {ev.config:14} {ev.n_reviews:4d} {m['match']['precision']:7.3f} "
            f"{m['match']['recall']:6.3f} {m['match']['f1']:6.3f} "
            f"{_number(m['bug_kappa']):6.3f} {m['total']['mae']:7.2f} "
            f"{_number(m['total']['qwk']):6.3f} "
            f"{m['red_flags']['f1']:7.3f} {m['auto_graded_share']:6.3f} "
            f"{_number(m['wrong_matches_per_auto_review']):8.3f} "
            f"{_number(m['missed_matches_per_auto_review']):9.3f}"
        )
        lines.append(f"  {'':14} {_dimension_errors(m['dimensions'])}")
    lines.append("")
    lines.append(
        "Every row is leave-one-assessment-out unless it says otherwise. kappa: Cohen's kappa on "
        "bug-level found/not-found; QWK: totals binned in steps of 10 points; auto: share of "
        "reviews that do not need review; err/auto: wrong matches per such review; miss/auto: "
        "finds it missed per such review, silently. Beneath each "
        "line, per dimension: MAE and bias (mean of grader minus gold) on 0..100, and in "
        "brackets the total points that error is worth at the rubric's weight."
    )
    return "\n".join(lines)


def _write_json(path: str, results: Sequence[Any]) -> None:
    Path(path).write_text(
        json.dumps(
            [
                {
                    "name": r.name,
                    "row": r.row,
                    "config": r.config,
                    "tested": r.tested,
                    "trained": r.trained,
                    "n_reviews": r.n_reviews,
                    "metrics": r.metrics,
                    "per_review": r.per_review,
                }
                for r in results
            ],
            indent=2,
        )
        + "\n"
    )


def _kinds_section(corpus: Any, progress: Callable[[str], None]) -> str:
    from grading.kinds import evaluate_kinds, format_kinds

    return format_kinds(evaluate_kinds(corpus, progress=progress))


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Report agreement with the gold labels of the corpora."""
    from grading.evaluation import ModelCache, evaluate, report
    from grading.persistence import training_digest
    from grading.training import SEALED, default_root, load_corpus

    root = Path(args.root) if args.root else default_root()
    corpus = load_corpus(root, reviews_dir=Path(args.reviews_dir) if args.reviews_dir else None)
    for problem in corpus.problems:
        _report(problem)
    excluded = set(args.exclude or [])
    unknown = excluded - set(corpus.entries)
    corpus = corpus.subset(exclude=excluded)
    if not corpus.assessments():
        print("no labelled reviews found", file=sys.stderr)
        return 2
    baselines = [] if args.no_baselines else ["line_overlap", "fuzzy_text"]

    def progress(what: str) -> None:
        if sys.stderr.isatty():
            print(f"  {what}...", file=sys.stderr)

    if args.kinds:
        print(_kinds_section(corpus, progress))
        return 0
    if not (args.holdout or args.in_sample or args.unseen):
        sealed = None
        sealed_dir = root / "corpora" / SEALED
        if (sealed_dir / "reviews").is_dir():
            # The sealed folder is laid out as corpora/ is: prose reviews, then each register's
            # reviews and keys in a folder of its own.
            sealed = load_corpus(sealed_dir, corpora_dir=sealed_dir)
            for problem in sealed.problems:
                _report(problem)
            unknown -= set(sealed.entries)
            sealed = sealed.subset(exclude=excluded)
            if not sealed.assessments():
                sealed = None
        if unknown:
            print(f"--exclude: no assessment {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        if len(corpus.assessments()) < 2:
            print(
                "the report holds each assessment out in turn: it needs labelled reviews of "
                "at least two assessments (use --in-sample for one)",
                file=sys.stderr,
            )
            return 2
        cache = _cache_dir(args)
        models = ModelCache(
            corpus,
            cache_dir=cache / "evaluation" if cache is not None else None,
            digest=training_digest(root) + "-" + "-".join(sorted(excluded)),
        )
        results = report(
            corpus, sealed=sealed, baselines=baselines, models=models, progress=progress
        )
        print(
            f"{len(corpus.assessments())} assessments ({', '.join(corpus.assessments())}); "
            f"registers {', '.join(corpus.registers())}; keys {', '.join(corpus.key_variants())}"
            + (f"; sealed: {', '.join(sealed.assessments())}" if sealed else "")
            + (f"; excluded: {', '.join(sorted(excluded))}" if excluded else "")
        )
        print(_format_report(results))
        if not args.no_kinds:
            print()
            print(_kinds_section(corpus, progress))
        if args.json:
            _write_json(args.json, results)
        return 0
    if unknown:
        print(f"--exclude: no assessment {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    unseen = None
    if args.unseen:
        unseen = load_corpus(Path(args.unseen), corpora_dir=Path(args.unseen))
        for problem in unseen.problems:
            _report(problem)
        if not unseen.assessments():
            print(f"no labelled reviews found under {args.unseen}", file=sys.stderr)
            return 2
    results = evaluate(
        corpus, unseen=unseen, holdout=args.holdout, baselines=baselines, progress=progress
    )
    tested = unseen or corpus
    n = results[0].n_reviews
    print(
        f"{n} labelled reviews over {len(tested.assessments())} assessments "
        f"({', '.join(tested.assessments())})"
    )
    print(_format_evaluation(results))
    if args.json:
        _write_json(args.json, results)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """End-to-end throughput and latency of the grader and a difflib baseline."""
    from grading.bench import run_bench

    run_bench(
        n=args.n,
        root=Path(args.root) if args.root else None,
        slug=args.assessment,
        singles=args.singles,
        cache_dir=_cache_dir(args),
        unique=args.unique,
        out=lambda line: print(line, flush=True),
    )
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    """Report how far a second, independent human grader agrees with the corpora's labels."""
    from grading.agreement import corpus_agreement
    from grading.content import load_catalog
    from grading.training import APART, default_root

    root = Path(args.root) if args.root else default_root()
    rows: list[dict[str, object]] = []
    # The sealed and retired sets' second labels are measured against their own assessments,
    # in rows of their own.
    for corpora, content, prefix in (
        (root / "corpora", root, ""),
        *((root / "corpora" / name, root / "corpora" / name, f"{name} ") for name in APART),
    ):
        catalog = load_catalog(content / "assessments", content / "seeded_bugs")
        bugs = {e.assessment.slug: [b.id for b in e.answer_key.bugs] for e in catalog.entries}
        rows.extend(a.as_row() for a in corpus_agreement(corpora, bugs, prefix=prefix))
    if not rows:
        print("no second labels found under corpora/agreement", file=sys.stderr)
        return 2
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m grading`."""
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a JSON Lines file of reviews")
    grade.add_argument("--assessment", required=True, help="assessments/<slug> folder")
    grade.add_argument("--bugs", required=True, help="seeded_bugs/<slug>.yaml answer key")
    grade.add_argument("--reviews", required=True, help="reviews, one JSON object a line")
    grade.add_argument("--out", required=True, help="where to write the scores (JSON Lines)")
    grade.add_argument("--explain", action="store_true", help="add an evidence field")
    grade.add_argument(
        "--root",
        default=None,
        help="project folder with the training corpora (default: this checkout)",
    )
    grade.add_argument(
        "--cache-dir",
        default=None,
        help="where trained models are kept (default: var/cache/grading)",
    )
    grade.add_argument("--no-cache", action="store_true", help="train in memory only")
    grade.set_defaults(func=cmd_grade)
    ev = sub.add_parser(
        "evaluate",
        help="compare with the gold labels of the corpora: by default every register, answer-key "
        "variant and language, each assessment held out in turn, and the sealed set",
    )
    mode = ev.add_mutually_exclusive_group()
    mode.add_argument(
        "--holdout",
        action="store_true",
        help="only leave-one-assessment-out over all reviews, with the full keys",
    )
    mode.add_argument("--in-sample", action="store_true", help="train and test on the same reviews")
    mode.add_argument(
        "--unseen",
        default=None,
        metavar="DIR",
        help="train on the corpora, test on DIR/assessments and DIR/seeded_bugs with every "
        "register of reviews under DIR (DIR/reviews, DIR/<register>/reviews), pooled "
        "(e.g. corpora/retired)",
    )
    ev.add_argument("--no-baselines", action="store_true", help="skip the plain baselines")
    kinds = ev.add_mutually_exclusive_group()
    kinds.add_argument(
        "--kinds",
        action="store_true",
        help="only the comment-kind section: the defect class across projects and registers",
    )
    kinds.add_argument(
        "--no-kinds", action="store_true", help="leave the comment-kind section out of the report"
    )
    ev.add_argument(
        "--exclude",
        action="append",
        metavar="SLUG",
        help="leave this assessment out of training and testing (repeatable)",
    )
    ev.add_argument(
        "--cache-dir",
        default=None,
        help="where trained models are kept between runs (default: var/cache/grading)",
    )
    ev.add_argument("--no-cache", action="store_true", help="train in memory only")
    ev.add_argument("--root", default=None, help="project folder (default: this checkout)")
    ev.add_argument("--reviews-dir", default=None, help="labelled reviews (default: corpora)")
    ev.add_argument("--json", default=None, help="also write the metrics as JSON here")
    ev.set_defaults(func=cmd_evaluate)
    agree = sub.add_parser(
        "agreement",
        help="how far a second, independent grader's labels agree with the corpora's labels",
    )
    agree.add_argument("--root", default=None, help="project folder (default: this checkout)")
    agree.set_defaults(func=cmd_agreement)
    bench = sub.add_parser("bench", help="measure throughput and latency")
    bench.add_argument("--n", type=int, default=10_000, help="synthetic reviews in the batch")
    bench.add_argument("--singles", type=int, default=100, help="reviews timed one by one")
    bench.add_argument("--assessment", default=None, help="slug to bench on (default: first)")
    bench.add_argument("--root", default=None, help="project folder (default: this checkout)")
    bench.add_argument("--cache-dir", default=None, help="model cache (default: var/cache)")
    bench.add_argument("--no-cache", action="store_true", help="train in memory only")
    bench.add_argument(
        "--unique",
        action="store_true",
        help="make every comment and summary new text, as in a real batch (no text repeats)",
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m grading`."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
