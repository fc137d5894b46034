"""What the models said about one review: the grader's reading before it decides anything."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grading.units import Unit


@dataclass
class Analysis:
    """Everything the models said about one review, before scoring."""

    units: list[Unit]
    features: np.ndarray  # (n_units, n_bugs, n_features)
    proba: np.ndarray  # (n_units, n_bugs)
    kind_proba: np.ndarray  # (n_units, n_kinds)
    tradeoff: np.ndarray  # (n_units,)
    flag_proba: np.ndarray  # (n_units, n_flags)
    # Decided over the whole batch at once when the grader analysed it, and not recomputed if
    # `proba` is changed afterwards: each unit's kind index (`CommentClassifier.decide`); per
    # bug, the first comment finding it (see `Grader.decide_matches`); whether each unit finds
    # some bug; each unit's most likely flag class and its probability of proposing to replace
    # the code (a rewrite or a framework); the kind of the summary's sentences taken together
    # (None without a summary).
    kinds: list[int]
    first: list[int]
    finds: list[bool]
    flags: list[int]
    replacing: list[float]
    summary_kind: int | None
