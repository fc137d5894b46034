"""Throughput and latency of `python -m grading grade`, beside a plain difflib baseline.

The batch is built from the labelled reviews of one assessment: comments are drawn at random
(seeded), re-anchored a few lines off now and then, and shuffled, so every review is new text
the caches have not seen as a whole. Its comments, though, repeat: a few hundred corpus
comments recombined, so what the grader remembers per distinct text does most of the work.
With `unique=True` every comment and summary is made new text (numbers changed, a few words
swapped for others of the corpus, see `vary_text`), as in a real batch of candidates' reviews.

What is measured, in this order:

1. **end to end**: `python -m grading grade` on the whole batch, in a fresh process, as a user
   runs it: interpreter start, imports, loading the cached models, reading and writing JSON
   Lines. Wall clock, and the child's CPU time, which a busy machine disturbs less.
2. **one review alone**: p50/p99 latency of grading single reviews in this process, the cost a
   web request pays once the grader is loaded.
3. **the baseline**: the same single reviews graded by difflib against the bug titles.

BLAS is held to one thread: the figures are for one core.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from grading.cache import default_grader
from grading.errors import GradingError
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


WORD_RE = re.compile(r"[A-Za-z][A-Za-z_]{3,}")
NUMBER_RE = re.compile(r"\d+")


def vary_text(text: str, rng: random.Random, vocabulary: Sequence[str], seen: set[str]) -> str:
    """`text` with its numbers changed and a few of its words swapped for corpus words, unlike
    any text in `seen` (which it joins): a comment the grader has never read."""
    if not text:
        return text
    for swaps in range(2, 64):
        varied = NUMBER_RE.sub(lambda m: str(rng.randint(1, 10 ** len(m.group()))), text)
        words = list(WORD_RE.finditer(varied))
        for m in sorted(rng.sample(words, k=min(swaps, len(words))), key=lambda m: -m.start()):
            varied = varied[: m.start()] + rng.choice(vocabulary) + varied[m.end() :]
        if varied not in seen:
            break
    else:
        varied = f"{text} ({len(seen)})"  # a text with no words or numbers to vary
    seen.add(varied)
    return varied


def unique_reviews(objects: Sequence[dict[str, Any]], *, seed: int = 0) -> list[dict[str, Any]]:
    """The same reviews with every comment and summary made text no other one has."""
    rng = random.Random(seed)
    texts = [c["body"] for o in objects for c in o["comments"]] + [o["summary"] for o in objects]
    vocabulary = sorted({w for t in texts for w in WORD_RE.findall(t)})
    seen: set[str] = set()
    out = []
    for o in objects:
        comments = [
            {**c, "body": vary_text(c["body"], rng, vocabulary, seen)} for c in o["comments"]
        ]
        summary = vary_text(o["summary"], rng, vocabulary, seen)
        out.append({**o, "comments": comments, "summary": summary})
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_grade_command(
    reviews: Path, assessment: Path, bugs: Path, *, root: Path, cache_dir: Path | None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `python -m grading grade` on a file, process included."""
    command = [
        sys.executable,
        "-m",
        "grading",
        "grade",
        "--assessment",
        str(assessment),
        "--bugs",
        str(bugs),
        "--reviews",
        str(reviews),
        "--out",
        str(reviews.with_suffix(".scores.jsonl")),
        "--root",
        str(root),
        *(["--cache-dir", str(cache_dir)] if cache_dir is not None else ["--no-cache"]),
    ]
    # One BLAS thread in the child too, so the figure is for one core.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cpu, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise GradingError(f"`{' '.join(command)}` failed: {result.stderr.strip()[-2000:]}")
    return wall, cpu


def run_bench(
    *,
    n: int = 10_000,
    root: Path | None = None,
    slug: str | None = None,
    singles: int = 100,
    cache_dir: Path | None = None,
    unique: bool = False,
    out: Callable[[str], None] = print,
) -> None:
    """Run the benchmark, writing what it will measure first and each figure as it comes."""
    root = root or default_root()
    corpus = load_corpus(root)
    slug = slug or corpus.assessments()[0]
    if slug not in corpus.entries or not corpus.reviews.get(slug):
        raise GradingError(
            f"no assessment {slug!r} with labelled reviews; one of: "
            f"{', '.join(corpus.assessments())}"
        )
    entry = corpus.entries[slug]
    objects = synthetic_reviews([item.review for item in corpus.reviews[slug]], n)
    if unique:
        objects = unique_reviews(objects)
    distinct = len({c["body"] for o in objects for c in o["comments"]})
    n_comments = sum(len(o["comments"]) for o in objects) / max(len(objects), 1)
    singles = min(singles, n)
    out(
        f"bench: {n} synthetic reviews of {slug} ({n_comments:.1f} comments each on average, "
        f"{distinct:,} distinct comment texts"
        + (", every one new text" if unique else ", recombined: caches of texts help")
        + f"), one core. Measuring (1) `python -m grading grade` on all {n} end to end in a fresh "
        f"process (start, imports, model load, JSON in and out), (2) {singles} reviews graded "
        f"one at a time in this process, (3) a difflib baseline on the same {singles}."
        + ("" if cache_dir is not None else " No model cache: the process trains first.")
    )
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        grader = default_grader(root, cache_dir=cache_dir)
        ready = time.perf_counter() - started
        out(f"grader ready in this process (trained or loaded) in {ready:.2f} s")
        with tempfile.TemporaryDirectory(prefix="redline-bench-") as tmp:
            reviews = Path(tmp) / "reviews.jsonl"
            reviews.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
            wall, cpu = time_grade_command(
                reviews,
                root / "assessments" / slug,
                root / "seeded_bugs" / f"{slug}.yaml",
                root=root,
                cache_dir=cache_dir,
            )
        out(
            f"{'end to end (grade command)':28} {n / wall:10,.0f} reviews/s by wall clock "
            f"({wall:.2f} s), {n / max(cpu, 1e-9):,.0f} per CPU second ({cpu:.2f} s)"
        )
        assessment, key = entry.assessment, entry.answer_key
        sample = [parse_review(o) for o in objects[:singles]]
        grader.grade(sample[0], assessment, key)  # build the per-assessment index
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
    out(f"{'':28} {'p50 ms':>10} {'p99 ms':>8} {'reviews/s':>10}")
    out(f"{'grader, one review alone':28} {p50:10.2f} {p99:8.2f} {len(one) / sum(one):10,.0f}")
    out(f"{'difflib baseline':28} {b50:10.2f} {b99:8.2f} {len(base_one) / sum(base_one):10,.0f}")
    out(
        f"(p50/p99 over {len(one)} reviews graded one at a time; the end-to-end figure includes "
        f"everything a user waits for)"
    )
