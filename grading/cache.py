"""The process-wide grader: trained once from the corpora, kept on disk between processes.

Training takes seconds to minutes; loading saved models takes a fraction of a second. The
saved file is named by a digest of everything the models were trained from and of the
engine's own source (`persistence.default_cache_path`), so a changed corpus or a changed
feature set is never served from a stale file.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from grading.errors import ModelError
from grading.grader import Grader
from grading.models import assemble
from grading.persistence import default_cache_path, load_models, save_models
from grading.training import default_root, load_corpus, train_models

_lock = threading.Lock()
_graders: dict[tuple[Path, Path | None], Grader] = {}


def default_grader(
    root: Path | str | None = None,
    *,
    cache_dir: Path | str | None = None,
    corpora_dir: Path | str | None = None,
) -> Grader:
    """The grader trained on the corpora under `root`, built on first use and shared.

    Parameters
    ----------
    root
        The project folder holding `assessments/`, `seeded_bugs/` and `corpora/`; by default
        the one shipped with this package. Training is deterministic; the result is kept per
        root and corpora folder and shared between threads.
    cache_dir
        A folder to keep the trained models in between processes (plain arrays, no pickle).
        None: train in memory only.
    corpora_dir
        The labelled corpora to train on, when not `root/corpora`.

    Returns
    -------
    Grader
    """
    base = Path(root).resolve() if root is not None else default_root()
    corpora = Path(corpora_dir).resolve() if corpora_dir is not None else None
    key = (base, corpora)
    with _lock:
        grader = _graders.get(key)
        if grader is not None:
            return grader
        path = (
            default_cache_path(base, Path(cache_dir), corpora_dir=corpora)
            if cache_dir is not None
            else None
        )
        models = None
        if path is not None and path.is_file():
            with contextlib.suppress(ModelError):
                models = load_models(path)
        if models is None:
            models = train_models(load_corpus(base, corpora_dir=corpora))
            if path is not None:
                # A read-only cache folder only costs the next process a retrain.
                with contextlib.suppress(OSError):
                    save_models(models, path)
        grader = assemble(models)
        _graders[key] = grader
        return grader
