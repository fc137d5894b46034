"""The labelled corpora follow their formats, and their gold labels follow the rubric."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grading import Catalog, load_answer_key, load_catalog
from grading.agreement import pair_labels
from grading.reviews import parse_review
from grading.types import COMMENT_KINDS, DIMENSIONS, RED_FLAG_KINDS

ROOT = Path(__file__).resolve().parents[1]
REVIEWS_DIR = ROOT / "corpora" / "reviews"
TERSE_REVIEWS_DIR = ROOT / "corpora" / "terse" / "reviews"
TERSE_KEYS_DIR = ROOT / "corpora" / "terse" / "keys"
COMMENTS_DIR = ROOT / "corpora" / "comments"
SEALED_DIR = ROOT / "corpora" / "sealed"
RETIRED_DIR = ROOT / "corpora" / "retired"
CATALOG = load_catalog(ROOT / "assessments", ROOT / "seeded_bugs")
# Sets kept apart from training, each with its own assessments: the sealed set, and the sets
# retired from it once read.
APART = {
    folder: load_catalog(folder / "assessments", folder / "seeded_bugs")
    for folder in (SEALED_DIR, RETIRED_DIR)
}
# Per assessment, over both registers: enough reviews, and a spread of quality on both sides.
MIN_REVIEWS, MIN_STRONG, MIN_WEAK = 40, 8, 8
# Per corpus file: enough of each register to measure it on its own.
MIN_FILE_REVIEWS = 20
# A terse key is what a busy author writes: one line per bug.
MAX_TERSE_DESCRIPTION_WORDS = 25


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            rows.append((number, json.loads(line)))
    return rows


def _review_files() -> list[Path]:
    return sorted(REVIEWS_DIR.glob("*.jsonl"))


def _all_review_files() -> list[Path]:
    return _review_files() + sorted(TERSE_REVIEWS_DIR.glob("*.jsonl"))


def _apart(pattern: str) -> list[tuple[Path, Catalog]]:
    return [(p, catalog) for folder, catalog in APART.items() for p in sorted(folder.glob(pattern))]


def _corpus_id(path: Path) -> str:
    return str(path.relative_to(ROOT / "corpora").with_suffix(""))


def test_shipped_content_is_valid() -> None:
    assert CATALOG.problems == ()
    assert {e.assessment.slug for e in CATALOG.entries} >= {
        "docs-rag",
        "agent-orchestrator",
        "llm-gateway-client",
    }
    for entry in CATALOG.entries:
        bugs = entry.answer_key.bugs
        assert len(bugs) == 3, entry.assessment.slug
        assert sum(b.subtle for b in bugs) >= 1, entry.assessment.slug
        assert entry.answer_key.decoys, entry.assessment.slug


def test_every_bug_and_decoy_points_inside_its_file() -> None:
    for entry in CATALOG.entries:
        for item in (*entry.answer_key.bugs, *entry.answer_key.decoys):
            snippet = entry.assessment.file(item.file or "")
            assert snippet is not None, f"{entry.assessment.slug}/{item.id}: {item.file}"
            for lines in item.lines:
                assert 1 <= lines.start <= lines.end <= snippet.line_count, (
                    f"{entry.assessment.slug}/{item.id}: {lines} outside {snippet.name}"
                )


def test_every_assessment_has_a_review_corpus() -> None:
    assert {p.stem for p in _review_files()} == {e.assessment.slug for e in CATALOG.entries}


def test_every_terse_corpus_has_a_terse_key_and_an_assessment() -> None:
    terse_reviews = {p.stem for p in TERSE_REVIEWS_DIR.glob("*.jsonl")}
    terse_keys = {p.stem for p in TERSE_KEYS_DIR.glob("*.yaml")}
    assert terse_reviews <= terse_keys
    assert terse_keys <= {e.assessment.slug for e in CATALOG.entries}


@pytest.mark.parametrize(
    ("path", "catalog"),
    [(p, CATALOG) for p in sorted(TERSE_KEYS_DIR.glob("*.yaml"))] + _apart("terse/keys/*.yaml"),
    ids=lambda p: _corpus_id(p) if isinstance(p, Path) else "",
)
def test_terse_key_is_the_full_key_in_one_line_per_item(path: Path, catalog: Catalog) -> None:
    entry = catalog.get(path.stem)
    assert entry is not None, f"{path.name}: no valid assessment {path.stem!r}"
    terse = load_answer_key(path, entry.assessment)
    full = entry.answer_key

    def anchors(items: Sequence[Any]) -> dict[str, tuple[Any, ...]]:
        return {i.id: (i.file, tuple(i.lines), getattr(i, "rank", None)) for i in items}

    assert anchors(terse.bugs) == anchors(full.bugs), path.name
    assert {b.id: b.subtle for b in terse.bugs} == {b.id: b.subtle for b in full.bugs}
    assert anchors(terse.decoys) == anchors(full.decoys), path.name
    for bug in terse.bugs:
        assert bug.phrases == (), f"{path.name}: {bug.id} has phrases"
        text = bug.description.strip()
        assert "\n" not in text, f"{path.name}: {bug.id} description is not one line"
        assert len(text.split()) <= MAX_TERSE_DESCRIPTION_WORDS, f"{path.name}: {bug.id}"


@pytest.mark.parametrize("path", _all_review_files(), ids=_corpus_id)
def test_review_corpus_labels_follow_the_rubric(path: Path) -> None:
    assert _check_labels(path) >= MIN_FILE_REVIEWS


@pytest.mark.parametrize(
    ("path", "catalog"),
    _apart("reviews/*.jsonl") + _apart("terse/reviews/*.jsonl"),
    ids=lambda p: _corpus_id(p) if isinstance(p, Path) else "",
)
def test_sealed_review_labels_follow_the_rubric(path: Path, catalog: Catalog) -> None:
    assert _check_labels(path, catalog) >= MIN_FILE_REVIEWS


@pytest.mark.parametrize("folder", list(APART), ids=lambda p: p.name)
def test_every_sealed_terse_corpus_has_a_terse_key_and_an_assessment(folder: Path) -> None:
    terse_reviews = {p.stem for p in folder.glob("terse/reviews/*.jsonl")}
    terse_keys = {p.stem for p in folder.glob("terse/keys/*.yaml")}
    assert terse_reviews <= terse_keys
    assert terse_keys <= {e.assessment.slug for e in APART[folder].entries}


def test_a_retired_set_is_no_longer_sealed() -> None:
    sealed = {e.assessment.slug for e in APART[SEALED_DIR].entries}
    assert sealed and not sealed & {e.assessment.slug for e in APART[RETIRED_DIR].entries}


@pytest.mark.parametrize(
    ("path", "catalog"),
    [(p, CATALOG) for p in sorted((ROOT / "corpora" / "agreement").glob("*/*.jsonl"))]
    + _apart("agreement/*/*.jsonl"),
    ids=lambda p: _corpus_id(p) if isinstance(p, Path) else "",
)
def test_second_labels_follow_the_rubric_and_label_the_same_reviews(
    path: Path, catalog: Catalog
) -> None:
    corpora, register = path.parent.parent.parent, path.parent.name
    first = corpora / "reviews" if register == "prose" else corpora / register / "reviews"
    assert _check_labels(path, catalog) >= 5
    assert len(pair_labels(path, first / path.name)) == len(_lines(path))


def _check_labels(path: Path, catalog: Catalog = CATALOG) -> int:
    """Check every gold label of a labelled-review file; returns how many reviews it holds."""
    entry = catalog.get(path.stem)
    assert entry is not None, f"{path.name}: no valid assessment {path.stem!r}"
    bugs = {b.id: b for b in entry.answer_key.bugs}
    decoys = {d.id for d in entry.answer_key.decoys}
    rubric = entry.assessment.rubric
    rows = _lines(path)
    ids: set[str] = set()
    for number, row in rows:
        where = f"{path.name}:{number}"
        review = parse_review(row)
        assert review.assessment == path.stem, where
        assert review.id not in ids, f"{where}: duplicate id {review.id}"
        ids.add(review.id)
        gold = row["gold"]
        n = len(review.comments)
        indices = range(-1, n)

        matched = [m["bug"] for m in gold["matches"]]
        assert len(matched) == len(set(matched)), f"{where}: a bug is matched twice"
        for match in gold["matches"]:
            assert match["bug"] in bugs and match["comment"] in indices, f"{where}: {match}"
        for bug_id in gold.get("summary_priority", []):
            assert bug_id in bugs, f"{where}: summary_priority names {bug_id}"
        for miss in gold.get("near_misses", []):
            assert miss["bug"] in bugs and miss["comment"] in indices, f"{where}: {miss}"
            assert miss["kind"] in {"misdiagnosed", "misplaced"}, f"{where}: {miss}"
        for alarm in gold.get("false_alarms", []):
            assert alarm["decoy"] in decoys and alarm["comment"] in indices, f"{where}: {alarm}"
        for flag in gold["red_flags"]:
            assert flag["kind"] in RED_FLAG_KINDS and flag["comment"] in indices, f"{where}"
        labels = gold["comments"]
        assert len(labels) == n, f"{where}: {len(labels)} comment labels for {n} comments"
        for label in labels:
            assert label["kind"] in COMMENT_KINDS and isinstance(label["tradeoff"], bool), where

        dims = gold["dimensions"]
        assert set(dims) == set(DIMENSIONS), where
        assert all(0 <= dims[d] <= 100 for d in DIMENSIONS), where
        weight_all = sum(b.weight for b in bugs.values())
        detection = 100 * sum(bugs[b].weight for b in matched) / weight_all
        assert dims["detection"] == pytest.approx(detection, abs=0.06), f"{where}: detection"
        if not matched:
            assert dims["severity"] == 0, f"{where}: severity without a found bug"
        assert gold["total"] == pytest.approx(rubric.total(dims), abs=0.011), f"{where}: total"

    return len(rows)


@pytest.mark.parametrize("slug", sorted(p.stem for p in _review_files()))
def test_each_assessment_has_a_spread_of_labelled_reviews(slug: str) -> None:
    totals = [
        row["gold"]["total"]
        for path in (REVIEWS_DIR / f"{slug}.jsonl", TERSE_REVIEWS_DIR / f"{slug}.jsonl")
        if path.exists()
        for _, row in _lines(path)
    ]
    assert len(totals) >= MIN_REVIEWS
    assert sum(t > 70 for t in totals) >= MIN_STRONG
    assert sum(t < 40 for t in totals) >= MIN_WEAK
    # Every shipped assessment has enough reviews in each register: careful prose, and the
    # one-line comments real developers write.
    for folder in (REVIEWS_DIR, TERSE_REVIEWS_DIR):
        assert len(_lines(folder / f"{slug}.jsonl")) >= MIN_REVIEWS, folder.name


def test_every_red_flag_kind_appears_in_the_corpus() -> None:
    kinds = Counter(
        flag["kind"]
        for path in _all_review_files()
        for _, row in _lines(path)
        for flag in row["gold"]["red_flags"]
    )
    assert set(kinds) == set(RED_FLAG_KINDS), kinds


@pytest.mark.parametrize("name", ["written.jsonl", "crc_py.jsonl"])
def test_comment_corpus_format(name: str) -> None:
    rows = _lines(COMMENTS_DIR / name)
    assert len(rows) >= 700
    for number, row in rows:
        where = f"{name}:{number}"
        assert isinstance(row["text"], str) and row["text"].strip(), where
        assert row["kind"] in COMMENT_KINDS, where
        assert row["tradeoff"] in (True, False, None), where
        assert row["flag"] in (None, "rewrite", "framework"), where


def test_correction_records_point_at_their_defect() -> None:
    from grading.synthetic import parse_correction

    path = ROOT / "corpora" / "corrections" / "quixbugs.jsonl"
    rows = _lines(path)
    assert len(rows) >= 60
    sealed = {
        p.stem.lower()
        for folder in APART
        for p in (folder / "assessments").glob("*/*")
        if p.name != "assessment.yaml"
    }
    assert (path.parent / "LICENSE.quixbugs").is_file()
    names = set()
    for number, row in rows:
        where = f"{path.name}:{number}"
        record = parse_correction(row)
        assert (record.language, record.name) not in names, f"{where}: duplicate"
        names.add((record.language, record.name))
        assert record.name not in sealed, f"{where}: {record.name} is in the sealed set"
        assert record.buggy != record.fixed, where
        shown = "".join(
            "".join(record.code.splitlines()[record.lines.start - 1 : record.lines.end]).split()
        )
        # The buggy code sits on the recorded lines (a missing line has none of its own).
        for line in record.buggy.splitlines():
            assert "".join(line.split()) in shown, where


def test_the_corpus_loads_every_register_and_key_variant_without_a_problem() -> None:
    from grading.training import load_corpus

    corpus = load_corpus(ROOT)
    assert corpus.problems == []
    assert corpus.registers() == ["prose", "terse"]
    assert corpus.key_variants() == ["full", "terse"]
    slugs = {e.assessment.slug for e in CATALOG.entries}
    assert set(corpus.assessments()) == slugs
    assert set(corpus.keys["terse"]) == slugs
    for slug in slugs:
        full = corpus.answer_key(slug)
        terse = corpus.answer_key(slug, "terse")
        assert full is not None and terse is not None
        assert [b.id for b in terse.bugs] == [b.id for b in full.bugs], slug
