"""Save and load trained `Models` as plain arrays: no pickle, so a model file cannot run code.

The file is a NumPy `.npz` read with `allow_pickle=False`: coefficient arrays plus one JSON
document (vocabulary, background weights). `default_cache_path` names it by a
digest of everything the models were trained from and of the engine's own source, so a changed
corpus or a changed feature set never loads a stale model.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from grading.classification import CommentClassifier, NgramTfidf
from grading.errors import ModelError
from grading.matching import FEATURES, MatchModel
from grading.models import Models
from grading.scoring import LevelModel

# 2: the models alone; the grader's decision settings are the caller's, not the file's.
FORMAT_VERSION = 2
LEVEL_MODELS = ("tradeoff_model", "taste_model")
LEVEL_ARRAYS = ("mean_", "scale_", "coef_", "intercept_")
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


def save_models(models: Models, path: Path) -> None:
    """Write trained models to `path` atomically (a `.npz` of plain arrays and one JSON text)."""
    clf = models.classifier
    model = models.match_model
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
        "background": dict(models.background),
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
    for name in LEVEL_MODELS:
        level = getattr(models, name)
        if level is not None:
            for attr in LEVEL_ARRAYS:
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


def load_models(path: Path) -> Models:
    """Read models written by `save_models`, never unpickling anything.

    Raises `ModelError` naming the file when it is not such a file: written by another version
    of the engine, truncated, tampered with, or holding pickled objects.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ModelError(f"{path}: not a saved model (one bare array, not an .npz archive)")
        with loaded as data:
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
            for name in LEVEL_MODELS:
                if f"{name}.coef_" not in data.files:
                    levels[name] = None
                    continue
                level = LevelModel()
                for attr in LEVEL_ARRAYS:
                    setattr(level, attr, data[f"{name}.{attr}"])
                levels[name] = level
            background = {str(k): float(v) for k, v in dict(meta["background"]).items()}
    except ModelError:
        raise
    except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        # A pickled array or a pickle file ends here too: allow_pickle=False refuses it.
        raise ModelError(f"{path}: cannot load the saved models: {exc}") from exc
    return Models(
        clf,
        model,
        background,
        tradeoff_model=levels["tradeoff_model"],
        taste_model=levels["taste_model"],
    )
