"""The model registry: one retrain at a time, a lock left by a dead process is cleared, and
the "no worse" rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grading.errors import ModelError
from grading.registry import LOCK_FILE, Registry, RetrainRunning
from grading.retrain import Side, Tolerance, verdict


def test_a_second_retrain_is_refused_while_one_runs(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    with registry.retrain_lock(label="first"):
        assert registry.running() is not None
        with (
            pytest.raises(RetrainRunning, match=r"already running.*first"),
            registry.retrain_lock(label="second"),
        ):
            pass
    assert registry.running() is None
    with registry.retrain_lock():  # free again
        pass


def test_a_lock_left_by_a_dead_process_is_cleared(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "started_at": "x"}))
    registry = Registry(tmp_path)
    assert registry.running() is None
    with registry.retrain_lock():
        pass


def test_no_worse_means_f1_and_mae_within_the_tolerance() -> None:
    old = Side(f1=0.90, total_mae=8.0)
    tolerance = Tolerance(f1=0.01, mae=0.5)
    assert verdict(old, Side(f1=0.895, total_mae=8.4), tolerance)[0]
    ok, reason = verdict(old, Side(f1=0.88, total_mae=8.0), tolerance)
    assert not ok and "match F1" in reason and "total MAE" not in reason.split(":")[0]
    ok, reason = verdict(old, Side(f1=0.95, total_mae=9.0), tolerance)
    assert not ok and "worse held out on total MAE" in reason
    assert not verdict(Side(), Side(), tolerance)[0]


def test_a_pointer_to_a_missing_model_is_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    with pytest.raises(ModelError, match=r"no such file|cannot load"):
        registry.activate("20261207T000000Z-00000000")
    assert registry.active_version() is None
