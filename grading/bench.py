"""Throughput and latency on a synthetic batch, beside a plain difflib baseline.

The batch is built from the labelled reviews of one assessment: comments are drawn at random
(seeded), re-anchored a few lines off now and then, and shuffled, so every review is new text
the caches have not seen as a whole. Timing is end to end (JSON line in, JSON line out) on one
thread: BLAS is held to one thread while measuring.
"""

from __future__ import annotations

import difflib
import gc
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from grading.grader import Grader
from grading.reviews import parse_review
from grading.training import default_root, load_corpus
from grading.types import AnswerKey, Review


def synthetic_reviews(
    seed_reviews: Sequence[Review], n: int, *, seed: int = 0
) -> list[dict[str, Any]]:
    """n review objects (FORMATS.md section 3) recombined from real ones."""
    rng = random.Random(seed)
    comments = [c for r in seed_reviews for c in r.comments]
    summaries = [r.summary for r in seed_reviews if r.summary]
    if not comments:
        raise ValueError("no comments to build synthetic reviews from")
    out = []
    for i in range(n):
        picked = rng.sample(comments, k=min(len(comments), rng.randint(1, 7)))
        items = []
        for c in picked:
            item: dict[str, Any] = {"body": c.body}
            if c.file is not None:
                item["file"] = c.file
            if c.line is not None:
                shift = rng.choice((0, 0, 0, -2, 1, 3))
                item["line"] = max(1, c.line + shift)
                if c.end_line is not None:
                    item["end_line"] = max(item["line"], c.end_line + shift)
            if c.severity is not None:
                item["severity"] = c.severity
            items.append(item)
        out.append(
            {
                "id": f"bench-{i:06d}",
                "assessment": seed_reviews[0].assessment,
                "comments": items,
                "summary": rng.choice(summaries) if summaries and rng.random() < 0.8 else "",
            }
        )
    return out


def difflib_grade(review: Review, key: AnswerKey, *, threshold: float = 0.3) -> dict[str, Any]:
    """The plain baseline: a comment finds a bug when difflib finds its text close to the title."""
    found: dict[str, int] = {}
    texts = [(i, c.body.lower()) for i, c in enumerate(review.comments)]
    if review.summary:
        texts.append((-1, review.summary.lower()))
    for bug in key.bugs:
        target = " ".join((bug.title, *bug.phrases)).lower()
        for i, text in texts:
            if (
                difflib.SequenceMatcher(None, text[:2000], target, autojunk=False).ratio()
                >= threshold
            ):
                found[bug.id] = i
                break
    total = sum(b.weight for b in key.bugs)
    detection = 100.0 * sum(b.weight for b in key.bugs if b.id in found) / total
    return {
        "id": review.id,
        "total": detection * 0.3,
        "matches": [{"bug": b, "comment": c, "confidence": 1.0} for b, c in found.items()],
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


def _time_batch(
    lines: Sequence[str], grade: Callable[[list[Review]], list[str]]
) -> tuple[float, float]:
    """Reviews per second, by wall clock and by this process's CPU time."""
    start, cpu = time.perf_counter(), time.process_time()
    reviews = [parse_review(json.loads(line)) for line in lines]
    out = grade(reviews)
    elapsed, cpu_elapsed = time.perf_counter() - start, time.process_time() - cpu
    assert len(out) == len(lines)
    return len(lines) / elapsed, len(lines) / max(cpu_elapsed, 1e-9)


def run_bench(
    *,
    n: int = 10_000,
    root: Path | None = None,
    slug: str | None = None,
    singles: int = 1000,
    cache_dir: Path | None = None,
) -> str:
    """Run the benchmark and return a printable report."""
    root = root or default_root()
    started = time.perf_counter()
    corpus = load_corpus(root)
    loaded = time.perf_counter() - started
    slug = slug or corpus.assessments()[0]
    entry = corpus.entries[slug]
    seed = [item.review for item in corpus.reviews[slug]]
    objects = synthetic_reviews(seed, n)
    lines = [json.dumps(o) for o in objects]
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        grader = Grader.default(root, cache_dir=cache_dir)
        gc.freeze()
        trained = time.perf_counter() - started
        assessment, key = entry.assessment, entry.answer_key
        grader.grade(parse_review(objects[0]), assessment, key)  # build the per-assessment index

        def grade_batch(reviews: list[Review]) -> list[str]:
            return [json.dumps(g.to_dict()) for g in grader.iter_grade(reviews, assessment, key)]

        def baseline_batch(reviews: list[Review]) -> list[str]:
            return [json.dumps(difflib_grade(r, key)) for r in reviews]

        rate, rate_cpu = _time_batch(lines, grade_batch)
        base_rate, base_cpu = _time_batch(lines, baseline_batch)
        sample = [parse_review(o) for o in objects[:singles]]
        one: list[float] = []
        base_one: list[float] = []
        for review in sample:
            t = time.perf_counter()
            json.dumps(grader.grade(review, assessment, key).to_dict())
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            json.dumps(difflib_grade(review, key))
            base_one.append(time.perf_counter() - t)
    p50, p99 = _percentiles(one)
    b50, b99 = _percentiles(base_one)
    n_comments = sum(len(o["comments"]) for o in objects) / len(objects)
    return "\n".join(
        [
            f"synthetic batch: {n} reviews of {slug}, {n_comments:.1f} comments each on average; "
            f"one thread",
            f"corpus load {loaded:.2f} s, grader ready (train or cache) {trained:.2f} s",
            f"{'':24} {'reviews/s':>10} {'per CPU s':>10} {'p50 ms':>8} {'p99 ms':>8}",
            f"{'grader (end to end)':24} {rate:10,.0f} {rate_cpu:10,.0f} {p50:8.2f} {p99:8.2f}",
            f"{'difflib baseline':24} {base_rate:10,.0f} {base_cpu:10,.0f} {b50:8.2f} {b99:8.2f}",
            f"(reviews/s by wall clock; per CPU s: by this process's CPU time, which a busy "
            f"machine disturbs less; p50/p99: one review graded alone, over {len(sample)} reviews)",
        ]
    )
