"""Training is deterministic, and a saved grader grades exactly as the one it was saved from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grading import AnswerKey, Assessment, Grader, ModelError, default_grader, parse_review
from grading import cache as model_cache
from grading.models import assemble, models_of
from grading.persistence import load_models, save_models
from grading.training import key_folders, load_corpus, review_folders, train_grader
from tests.grading.conftest import FIXTURES, GO_REVIEWS


def _fixture_grader() -> Grader:
    corpus = load_corpus(
        FIXTURES, reviews_dir=FIXTURES / "reviews", comments_dir=FIXTURES / "no-comments"
    )
    return train_grader(corpus)


def test_training_twice_gives_the_same_models() -> None:
    first, second = _fixture_grader(), _fixture_grader()
    assert np.array_equal(first.classifier.kind_coef_, second.classifier.kind_coef_)
    assert np.array_equal(first.match_model.coef_, second.match_model.coef_)  # type: ignore[attr-defined]
    assert first.version == second.version and first.version.startswith("grading-")


def test_saved_grader_grades_identically(
    tmp_path: Path, grader: Grader, go_assessment: Assessment, go_key: AnswerKey
) -> None:
    path = tmp_path / "grader.npz"
    save_models(models_of(grader), path)
    loaded = assemble(load_models(path))
    assert loaded.version == grader.version
    reviews = [parse_review(json.loads(line)) for line in GO_REVIEWS.read_text().splitlines()]
    expected = [g.to_dict(explain=True) for g in grader.grade_many(reviews, go_assessment, go_key)]
    assert [
        g.to_dict(explain=True) for g in loaded.grade_many(reviews, go_assessment, go_key)
    ] == expected


def test_default_grader_is_shared_and_cached_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "assessments", root / "assessments")
    shutil.copytree(FIXTURES / "seeded_bugs", root / "seeded_bugs")
    shutil.copytree(FIXTURES / "reviews", root / "corpora" / "reviews")
    cache = tmp_path / "cache"
    try:
        first = default_grader(root, cache_dir=cache)
        assert default_grader(root, cache_dir=cache) is first
        assert len(list(cache.glob("grader-*.npz"))) == 1
        model_cache._graders.pop((root.resolve(), None))
        assert default_grader(root, cache_dir=cache) is not first  # loaded from the cache
    finally:
        model_cache._graders.pop((root.resolve(), None), None)


def test_the_corpora_can_live_apart_from_the_content(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "assessments", root / "assessments")
    shutil.copytree(FIXTURES / "seeded_bugs", root / "seeded_bugs")
    corpora = tmp_path / "elsewhere"
    shutil.copytree(FIXTURES / "reviews", corpora / "reviews")
    cache = tmp_path / "cache"
    try:
        grader = default_grader(root, cache_dir=cache, corpora_dir=corpora)
        assert grader.version == _fixture_grader().version  # the same data, the same models
        assert len(list(cache.glob("grader-*.npz"))) == 1
        with pytest.raises(ModelError, match="no labelled reviews"):
            default_grader(root, corpora_dir=tmp_path / "empty")
    finally:
        model_cache._graders.pop((root.resolve(), corpora.resolve()), None)


def test_nothing_trains_on_the_sealed_or_retired_sets(tmp_path: Path) -> None:
    # Laid out like any corpus, with reviews and keys of their own: still never a register.
    corpora = tmp_path / "corpora"
    for name in ("terse", "sealed", "retired"):
        (corpora / name / "reviews").mkdir(parents=True)
        (corpora / name / "keys").mkdir()
    assert [r for r, _ in review_folders(tmp_path)] == ["prose", "terse"]
    assert [v for v, _ in key_folders(tmp_path)] == ["terse"]
