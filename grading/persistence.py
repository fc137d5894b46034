"""Save and load a trained `Grader` as plain arrays: no pickle, so a cache cannot run code.

The file is a NumPy `.npz` written with `allow_pickle=False`: coefficient arrays plus one
JSON document (vocabulary, background weights, settings). `default_cache_path` names it by a
digest of everything the models were trained from and of the engine's own source, so a changed
corpus or a changed feature set never loads a stale model.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grading.classification import CommentClassifier, NgramTfidf
from grading.errors import ModelError
from grading.matching import FEATURES, MatchModel
from grading.scoring import LevelModel

if TYPE_CHECKING:
    from grading.grader import Grader

FORMAT_VERSION = 1
CONTENT_GLOBS = ("assessments/**/*", "seeded_bugs/*.yaml")
CORPORA_GLOB = "**/*.jsonl"


def training_digest(root: Path, *, corpora_dir: Path | None = None) -> str:
    """A digest of the training inputs under `root` (corpora from `corpora_dir`, by default
    `root/corpora`) and of this package's source."""
    digest = hashlib.sha256(f"format {FORMAT_VERSION}".encode())
    package = Path(__file__).resolve().parent
    corpora = Path(corpora_dir) if corpora_dir is not None else Path(root) / "corpora"
    bases = [(package, sorted(package.glob("*.py")))]
    for pattern in CONTENT_GLOBS:
        bases.append((root, sorted(p for p in root.glob(pattern) if p.is_file())))
    bases.append((corpora, sorted(p for p in corpora.glob(CORPORA_GLOB) if p.is_file())))
    for base, files in bases:
        for path in files:
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def default_cache_path(root: Path, cache_dir: Path, *, corpora_dir: Path | None = None) -> Path:
    """Where the grader trained from `root` (and `corpora_dir`) is cached inside `cache_dir`."""
    digest = training_digest(Path(root), corpora_dir=corpora_dir)
    return Path(cache_dir) / f"grader-{digest}.npz"


def save_grader(grader: Grader, path: Path) -> None:
    """Write a trained grader to `path` atomically."""
    clf = grader.classifier
    model = grader.match_model
    if not isinstance(model, MatchModel):
        raise ModelError("only a learned MatchModel can be saved")
    vocabulary = clf.vectorizer_.vocabulary_
    meta = {
        "format": FORMAT_VERSION,
        "features": list(FEATURES),
        "vocabulary": sorted(vocabulary, key=lambda g: vocabulary[g]),
        "classifier": {
            "C": clf.C,
            "min_df": clf.min_df,
            "random_state": clf.random_state,
            "defect_threshold": clf.defect_threshold,
            "trade_intercept": clf.trade_intercept_,
        },
        "match_intercept": model.intercept_,
        "match_C": model.C,
        "background": grader.background,
        "settings": asdict(grader.settings),
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "idf": clf.vectorizer_.idf_,
        "kind_coef": clf.kind_coef_,
        "kind_intercept": clf.kind_intercept_,
        "trade_coef": clf.trade_coef_,
        "flag_coef": clf.flag_coef_,
        "flag_intercept": clf.flag_intercept_,
        "match_coef": model.coef_,
    }
    for name in ("tradeoff_model", "taste_model"):
        level = getattr(grader, name)
        if level is not None:
            for attr in ("mean_", "scale_", "coef_", "intercept_"):
                arrays[f"{name}.{attr}"] = getattr(level, attr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_grader(path: Path) -> Grader:
    """Read a grader written by `save_grader`; raises `ModelError` if it does not fit."""
    from grading.grader import Grader, GraderSettings

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format") != FORMAT_VERSION or meta.get("features") != list(FEATURES):
                raise ModelError(f"{path}: saved by another version of the grading engine")
            clf = CommentClassifier(
                C=meta["classifier"]["C"],
                min_df=meta["classifier"]["min_df"],
                defect_threshold=meta["classifier"]["defect_threshold"],
                random_state=meta["classifier"]["random_state"],
            )
            vectorizer = NgramTfidf(min_df=clf.min_df)
            vectorizer.vocabulary_ = {g: i for i, g in enumerate(meta["vocabulary"])}
            vectorizer.idf_ = data["idf"]
            clf.vectorizer_ = vectorizer
            clf.kind_coef_ = data["kind_coef"]
            clf.kind_intercept_ = data["kind_intercept"]
            clf.trade_coef_ = data["trade_coef"]
            clf.trade_intercept_ = float(meta["classifier"]["trade_intercept"])
            clf.flag_coef_ = data["flag_coef"]
            clf.flag_intercept_ = data["flag_intercept"]
            model = MatchModel(C=meta["match_C"])
            model.coef_ = data["match_coef"]
            model.intercept_ = float(meta["match_intercept"])
            levels: dict[str, LevelModel | None] = {}
            for name in ("tradeoff_model", "taste_model"):
                if f"{name}.coef_" not in data.files:
                    levels[name] = None
                    continue
                level = LevelModel()
                for attr in ("mean_", "scale_", "coef_", "intercept_"):
                    setattr(level, attr, data[f"{name}.{attr}"])
                levels[name] = level
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: cannot load the saved grader: {exc}") from exc
    settings = meta["settings"]
    settings["uncertain"] = tuple(settings["uncertain"])
    settings["boundaries"] = tuple(settings["boundaries"])
    return Grader(
        clf,
        model,
        background=meta["background"],
        settings=GraderSettings(**settings),
        tradeoff_model=levels["tradeoff_model"],
        taste_model=levels["taste_model"],
    )
