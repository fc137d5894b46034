"""`redline content check` reports each kind of broken content with its file, line and field."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PIPELINE = "\n".join(f"line_{i} = {i}" for i in range(1, 41)) + "\n"

ASSESSMENT = """\
slug: demo
title: Review the demo
language: python
time_limit_minutes: 90
brief: |
  A small demo service.
files:
  - pipeline.py
"""

ANSWER_KEY = """\
assessment: demo
bugs:
  - id: first-bug
    file: pipeline.py
    lines: [3, 5]
    title: First bug
    description: Something breaks.
    rank: 1
    subtle: false
  - id: second-bug
    file: pipeline.py
    lines: [[10, 12], [30, 31]]
    title: Second bug
    description: Something else breaks.
    rank: 2
    subtle: true
decoys:
  - id: odd-but-fine
    file: pipeline.py
    lines: [20, 21]
    why: It is correct on purpose.
"""


def write_content(root: Path, assessment: str = ASSESSMENT, key: str = ANSWER_KEY) -> None:
    folder = root / "assessments" / "demo"
    folder.mkdir(parents=True)
    (folder / "assessment.yaml").write_text(assessment)
    (folder / "pipeline.py").write_text(PIPELINE)
    (root / "seeded_bugs").mkdir()
    (root / "seeded_bugs" / "demo.yaml").write_text(key)


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "content", "check", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_valid_content_passes(tmp_path: Path) -> None:
    write_content(tmp_path)
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok  demo: 1 files, 2 bugs, 1 decoys" in result.stdout


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


Mutation = Callable[[Path], None]


def _edit(name: str, old: str, new: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / name
        path.write_text(_replace(path.read_text(), old, new))

    return mutate


ASSESSMENT_YAML = "assessments/demo/assessment.yaml"
KEY_YAML = "seeded_bugs/demo.yaml"

CASES: dict[str, tuple[Mutation, str]] = {
    "bad yaml": (
        _edit(ASSESSMENT_YAML, "files:\n", "files: [\n"),
        "assessments/demo/assessment.yaml:8: invalid YAML",
    ),
    "slug does not match folder": (
        _edit(ASSESSMENT_YAML, "slug: demo", "slug: other"),
        "assessments/demo/assessment.yaml:1: slug: slug 'other' does not match its folder name",
    ),
    "missing snippet file": (
        _edit(ASSESSMENT_YAML, "  - pipeline.py", "  - pipeline.py\n  - cache.py"),
        "assessments/demo/assessment.yaml:9: files[1]: missing snippet file 'cache.py'",
    ),
    "unknown snippet file in answer key": (
        _edit(
            KEY_YAML,
            "    file: pipeline.py\n    lines: [3, 5]",
            "    file: pipelines.py\n    lines: [3, 5]",
        ),
        "seeded_bugs/demo.yaml:4: bugs[0].file: unknown snippet file 'pipelines.py'",
    ),
    "bug lines outside the file": (
        _edit(KEY_YAML, "[[10, 12], [30, 31]]", "[[10, 12], [39, 45]]"),
        "seeded_bugs/demo.yaml:12: bugs[1].lines[1]: lines 39-45 fall outside pipeline.py "
        "(40 lines)",
    ),
    "decoy lines outside the file": (
        _edit(KEY_YAML, "lines: [20, 21]", "lines: [50, 52]"),
        "seeded_bugs/demo.yaml:20: decoys[0].lines: lines 50-52 fall outside pipeline.py",
    ),
    "ranks not 1..N": (
        _edit(KEY_YAML, "rank: 2", "rank: 3"),
        "seeded_bugs/demo.yaml:15: bugs[1].rank: rank 3 is out of range; ranks must be 1..2",
    ),
    "duplicate rank": (
        _edit(KEY_YAML, "rank: 2", "rank: 1"),
        "seeded_bugs/demo.yaml:15: bugs[1].rank: rank 1 is used twice",
    ),
    "duplicate ids": (
        _edit(KEY_YAML, "id: second-bug", "id: first-bug"),
        "seeded_bugs/demo.yaml:10: bugs[1].id: duplicate id 'first-bug'",
    ),
    "missing required field": (
        _edit(KEY_YAML, "    title: First bug\n", ""),
        "seeded_bugs/demo.yaml:3: bugs[0].title: required field is missing",
    ),
    "unknown field": (
        _edit(ASSESSMENT_YAML, "time_limit_minutes: 90", "time_limit: 90"),
        "assessments/demo/assessment.yaml:4: time_limit: unknown field",
    ),
    "rubric does not sum to 100": (
        _edit(ASSESSMENT_YAML, "files:", "rubric:\n  detection: 50\nfiles:"),
        "assessments/demo/assessment.yaml:7: rubric: weights must sum to 100, they sum to 120",
    ),
    "answer key without assessment": (
        lambda root: (root / "seeded_bugs" / "ghost.yaml").write_text(
            _replace(ANSWER_KEY, "assessment: demo", "assessment: ghost")
        ),
        "seeded_bugs/ghost.yaml:1: assessment: answer key without assessment",
    ),
    "assessment without answer key": (
        lambda root: (root / "seeded_bugs" / "demo.yaml").unlink(),
        "assessments/demo/assessment.yaml: assessment 'demo' has no answer key",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_content_kind_is_reported_with_file_line_and_field(
    tmp_path: Path, case: str
) -> None:
    write_content(tmp_path)
    mutate, expected = CASES[case]
    mutate(tmp_path)
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write_content(tmp_path)
    _edit(KEY_YAML, "rank: 2", "rank: 3")(tmp_path)
    _edit(KEY_YAML, "id: second-bug", "id: first-bug")(tmp_path)
    _edit(ASSESSMENT_YAML, "slug: demo", "slug: other")(tmp_path)
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "3 problem(s) found" in result.stderr
