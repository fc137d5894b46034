"""The trained models a `Grader` grades with, as one value: what training returns, what
persistence saves and loads, and what `assemble` turns into a grader.

Keeping the models apart from the `Grader` lets training, persistence and the grading pipeline
each stand alone: none of them needs to construct the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from grading.classification import CommentClassifier
from grading.matching import PairScorer
from grading.scoring import LevelModel

if TYPE_CHECKING:
    from grading.grader import Grader, GraderSettings


def model_digest(
    classifier: CommentClassifier,
    match_model: PairScorer,
    tradeoff_model: LevelModel | None = None,
    taste_model: LevelModel | None = None,
) -> str:
    """A short digest of the trained parameters: the same models always give the same one."""
    digest = hashlib.sha256()
    for array in (classifier.kind_coef_, classifier.trade_coef_, classifier.flag_coef_):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(np.ascontiguousarray(getattr(match_model, "coef_", [])).tobytes())
    for level in (tradeoff_model, taste_model):
        if level is not None:
            digest.update(np.ascontiguousarray(level.coef_).tobytes())
    return f"grading-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class Models:
    """Every learned part of the grader.

    Parameters
    ----------
    classifier
        The fitted comment classifier (kind, tradeoff, red-flag language).
    match_model
        The fitted combiner of matching signals.
    background
        Stem weights learned from review comments in general (see `build_index`).
    tradeoff_model, taste_model
        The learned choice of the tradeoff and tool-taste levels; None leaves the rubric's
        rules of thumb to decide.
    """

    classifier: CommentClassifier
    match_model: PairScorer
    background: Mapping[str, float] = field(default_factory=dict)
    tradeoff_model: LevelModel | None = None
    taste_model: LevelModel | None = None

    @property
    def version(self) -> str:
        """The digest of the trained parameters (`model_digest`); a grader built from these
        models has the same `version`."""
        return model_digest(
            self.classifier, self.match_model, self.tradeoff_model, self.taste_model
        )


def assemble(models: Models, settings: GraderSettings | None = None) -> Grader:
    """A `Grader` that grades with `models` and decides with `settings` (the defaults: None)."""
    from grading.grader import Grader

    return Grader(
        models.classifier,
        models.match_model,
        background=models.background,
        settings=settings,
        tradeoff_model=models.tradeoff_model,
        taste_model=models.taste_model,
    )


def models_of(grader: Grader) -> Models:
    """The models a grader grades with."""
    return Models(
        grader.classifier,
        grader.match_model,
        grader.background,
        grader.tradeoff_model,
        grader.taste_model,
    )
