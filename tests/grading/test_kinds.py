"""The comment classifier's defect decision and its evaluation across projects and registers."""

from __future__ import annotations

import numpy as np
import pytest

from grading import CommentClassifier, GradingError
from grading.classification import DEFECT, decide_kinds
from grading.kinds import (
    DefectScore,
    KindSplit,
    baseline_defects,
    format_kinds,
    repository_folds,
)
from grading.training import LabelledComment
from grading.types import COMMENT_KINDS


def _comment(text: str, kind: str, repository: str | None = None) -> LabelledComment:
    return LabelledComment(text, kind, None, None, "test", flag_known=False, repository=repository)


def test_a_defect_is_called_once_its_probability_passes_the_balanced_prior() -> None:
    question = COMMENT_KINDS.index("question")
    proba = np.full((3, len(COMMENT_KINDS)), 0.1)
    proba[0, question], proba[0, DEFECT] = 0.4, 0.2  # defect beats the prior, loses the argmax
    proba[1, question], proba[1, DEFECT] = 0.45, 0.15  # below the prior: the argmax stands
    proba[2] = 0.0  # an empty row keeps its argmax
    kinds = decide_kinds(proba, defect_threshold=1 / len(COMMENT_KINDS))
    assert kinds.tolist() == [DEFECT, question, 0]
    assert decide_kinds(np.zeros((0, len(COMMENT_KINDS))), defect_threshold=0.2).tolist() == []


def test_the_default_threshold_is_the_prior_and_an_explicit_one_is_kept() -> None:
    assert CommentClassifier().defect_threshold_ == pytest.approx(1 / len(COMMENT_KINDS))
    assert CommentClassifier(defect_threshold=0.5).defect_threshold_ == 0.5


def test_predictions_name_the_kind_the_decision_rule_picks() -> None:
    texts = ["this is wrong, it should be 16 not 8", "nice work", "rename x to count"] * 4
    kinds = ["defect", "praise", "style"] * 4
    clf = CommentClassifier(min_df=1).fit(texts, kinds, [False] * 12, [None] * 12)
    preds = clf.predict(["this is wrong: should be 16", "nice"])
    assert preds.kind(0)[0] == "defect"
    assert preds.kind(1)[0] == "praise"
    decided = clf.decide(preds.kind_proba)
    assert [COMMENT_KINDS[k] for k in decided] == ["defect", "praise"]


def test_repositories_are_dealt_into_balanced_folds_deterministically() -> None:
    comments = [
        _comment(f"c{i}", "defect", repo)
        for repo, n in (("big", 6), ("mid", 4), ("a", 2), ("b", 2), ("c", 1))
        for i in range(n)
    ]
    comments.append(_comment("written by hand", "style"))  # no repository: never in a fold
    folds = repository_folds(comments, 2)
    assert folds == [["big", "b"], ["mid", "a", "c"]]  # 8 and 7 comments
    assert repository_folds(list(reversed(comments)), 2) == folds


def test_too_few_repositories_is_an_error_naming_the_count() -> None:
    comments = [_comment("x", "defect", "only"), _comment("y", "style", "other")]
    with pytest.raises(GradingError, match=r"at least 3 repositories.*name 2"):
        repository_folds(comments, 3)


def test_defect_scores_add_up_and_handle_empty_sets() -> None:
    a = DefectScore.of([True, True, False, False], [True, False, True, False])
    assert (a.tp, a.fp, a.fn) == (1, 1, 1)
    assert a.precision == a.recall == a.f1 == pytest.approx(0.5)
    total = a + DefectScore.of([True], [True])
    assert (total.tp, total.fp, total.fn) == (2, 1, 1)
    empty = DefectScore(0, 0, 0)
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_the_baseline_learns_defects_from_words() -> None:
    train = [_comment("this crashes on empty input", "defect")] * 3 + [
        _comment("please rename this variable", "style")
    ] * 3
    assert baseline_defects(train, ["crashes on empty input", "rename variable"]) == [True, False]
    with pytest.raises(GradingError, match="defect and non-defect"):
        baseline_defects(train[:3], ["x"])


def test_the_report_pools_each_view() -> None:
    splits = [
        KindSplit("projects", "fold 1", "a", 4, 2, DefectScore(2, 0, 0), DefectScore(1, 1, 1)),
        KindSplit("projects", "fold 2", "b", 4, 2, DefectScore(0, 2, 2), DefectScore(1, 0, 1)),
        KindSplit("registers", "terse", "t", 3, 1, DefectScore(1, 0, 0), DefectScore(0, 0, 1)),
    ]
    text = format_kinds(splits)
    pooled = next(line for line in text.splitlines() if line.strip().startswith("pooled"))
    # classifier pooled: tp 2, fp 2, fn 2 -> 0.5 / 0.5 / 0.5; baseline: tp 2, fp 1, fn 2.
    assert pooled.split()[3:6] == ["0.500", "0.500", "0.500"]
    assert pooled.split()[6:9] == ["0.667", "0.500", "0.571"]
    assert "across registers" in text
    assert text.count("pooled") == 1  # a view with one split is not pooled
