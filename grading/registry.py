"""Trained models kept in a folder, and the pointer to the one that grades.

Layout of the folder (the service keeps it in its data directory, never in git)::

    <version>.npz      the models (`persistence.save_models`: plain arrays, no pickle)
    <version>.json     what they were trained on, when, and the report of the retrain
    active.json        {"version": ...}: the models the service grades with; absent: the
                       models trained from the shipped corpora
    retrain.lock       present while a retrain runs (its process id and start time)

Readers find out about a switch by the pointer's modification time and size (`stamp`), so
every worker of a multi-process service picks up a new active model at its next grading,
without a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grading.errors import ModelError
from grading.models import Models
from grading.persistence import load_models, save_models

ACTIVE_FILE = "active.json"
LOCK_FILE = "retrain.lock"
VERSION_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


class RetrainRunning(ModelError):
    """Another retrain holds the folder's lock."""


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one saved model.

    `examples` counts what it was trained on; `decisions` names the submissions whose grader
    decisions were among its training data (so a later retrain can rebuild its training set);
    `report` is the side-by-side report of the retrain that made it.
    """

    version: str
    trained_at: str
    digest: str
    examples: dict[str, int] = field(default_factory=dict)
    decisions: tuple[int, ...] = ()
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON file."""
        return {
            "version": self.version,
            "trained_at": self.trained_at,
            "digest": self.digest,
            "examples": dict(self.examples),
            "decisions": list(self.decisions),
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> ModelInfo:
        """Read the JSON file's data; `ModelError` naming the file when it does not fit."""
        try:
            return cls(
                version=str(raw["version"]),
                trained_at=str(raw["trained_at"]),
                digest=str(raw["digest"]),
                examples={str(k): int(v) for k, v in dict(raw.get("examples") or {}).items()},
                decisions=tuple(int(d) for d in raw.get("decisions") or ()),
                report=dict(raw.get("report") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: not a model description: {exc}") from exc


def new_version(models: Models, at: datetime) -> str:
    """A version name that sorts by training time and names the parameters' digest."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{models.version.removeprefix('grading-')[:8]}"


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


class Registry:
    """The saved models in one folder and the pointer to the active one."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _path(self, version: str, suffix: str) -> Path:
        if not VERSION_PATTERN.match(version):
            raise ModelError(
                f"{version!r} is not a model version (expected like 20261207T054012Z-3fa9c1d2)"
            )
        return self.folder / f"{version}{suffix}"

    # -- the active pointer ---------------------------------------------------------------

    def stamp(self) -> tuple[int, int, int] | None:
        """The pointer's (modification time, size, inode), or None without one: cheap to read
        on every grading, and different after every switch (each writes a new file)."""
        try:
            st = (self.folder / ACTIVE_FILE).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def active_version(self) -> str | None:
        """The version the pointer names, or None when the shipped models grade."""
        path = self.folder / ACTIVE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the active-model pointer: {exc}") from exc
        version = raw.get("version") if isinstance(raw, dict) else None
        if not isinstance(version, str) or not VERSION_PATTERN.match(version):
            raise ModelError(f"{path}: the pointer names no valid model version")
        return version

    def activate(self, version: str) -> None:
        """Point the service at `version`; it must be saved here and load."""
        load_models(self._path(version, ".npz"))  # never point at a file that does not load
        _write_json(
            self.folder / ACTIVE_FILE,
            {"version": version, "activated_at": datetime.now(UTC).isoformat(timespec="seconds")},
        )

    # -- saved models ---------------------------------------------------------------------

    def save(self, models: Models, info: ModelInfo) -> None:
        """Keep models and their description under `info.version`."""
        save_models(models, self._path(info.version, ".npz"))
        _write_json(self._path(info.version, ".json"), info.to_dict())

    def load(self, version: str) -> Models:
        """The saved models of `version` (`ModelError` when missing or not loadable)."""
        path = self._path(version, ".npz")
        if not path.is_file():
            raise ModelError(f"{path}: no saved model {version}")
        return load_models(path)

    def info(self, version: str) -> ModelInfo:
        """The description of a saved version."""
        path = self._path(version, ".json")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the model description: {exc}") from exc
        return ModelInfo.from_dict(raw, path)

    def history(self) -> list[ModelInfo]:
        """Every saved version's description, newest first; unreadable ones are skipped."""
        out = []
        for path in sorted(self.folder.glob("*.json"), reverse=True):
            if not VERSION_PATTERN.match(path.stem):
                continue
            with contextlib.suppress(ModelError):
                out.append(self.info(path.stem))
        return out

    # -- one retrain at a time ------------------------------------------------------------

    def running(self) -> dict[str, Any] | None:
        """Who holds the retrain lock ({"pid", "started_at"}), or None; a lock left by a
        process that died is cleared."""
        path = self.folder / LOCK_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            pid = int(raw["pid"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return {"pid": None, "started_at": "unknown (unreadable lock file)"}
        if not _process_alive(pid):
            path.unlink(missing_ok=True)
            return None
        return dict(raw)

    @contextlib.contextmanager
    def retrain_lock(self, label: str = "") -> Iterator[None]:
        """Hold the lock for one retrain; `RetrainRunning` when another one holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        self.running()  # clears a lock left by a dead process
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = self.running() or {}
            raise RetrainRunning(
                f"a retrain is already running (started {holder.get('started_at', 'just now')}"
                f"{', ' + str(holder['label']) if holder.get('label') else ''}); "
                "wait for it to finish"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "pid": os.getpid(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "label": label,
                },
                handle,
            )
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
