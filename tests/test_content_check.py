"""`redline content check` reports each kind of broken content with its file, line and field."""

from __future__ import annotations

import subprocess
import sys
import time
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
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assessment.yaml").write_text(assessment)
    (folder / "pipeline.py").write_text(PIPELINE)
    (root / "seeded_bugs").mkdir(exist_ok=True)
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


def _billion_laughs() -> str:
    """A 3 KB document that would expand to 10^9 values."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _write_key(text: str) -> Mutation:
    return lambda root: (root / KEY_YAML).write_text(text)


def _link_folder_outside(root: Path) -> None:
    outside = root / "elsewhere" / "secret"
    outside.mkdir(parents=True)
    (outside / "assessment.yaml").write_text(ASSESSMENT.replace("slug: demo", "slug: other"))
    (outside / "pipeline.py").write_text(PIPELINE)
    (root / "assessments" / "other").symlink_to(outside, target_is_directory=True)
    (root / "seeded_bugs" / "other.yaml").write_text(
        ANSWER_KEY.replace("assessment: demo", "assessment: other")
    )


def _link_snippet_outside(root: Path) -> None:
    (root / "outside.txt").write_text("root:x:0:0\n" * 40)
    snippet = root / "assessments" / "demo" / "pipeline.py"
    snippet.unlink()
    snippet.symlink_to(root / "outside.txt")


def _link_key(root: Path) -> None:
    key = root / KEY_YAML
    (root / "key.yaml").write_text(key.read_text())
    key.unlink()
    key.symlink_to(root / "key.yaml")


HOSTILE_CASES: dict[str, tuple[Mutation, str]] = {
    "billion laughs": (
        _write_key(_billion_laughs()),
        "seeded_bugs/demo.yaml:5: refused: expands to more than 100000 values",
    ),
    "self-referencing alias": (
        _write_key("assessment: demo\nbugs: &loop [*loop]\n"),
        "seeded_bugs/demo.yaml:2: refused: an alias refers to a collection that contains it",
    ),
    "deep nesting": (
        _write_key("assessment: demo\nbugs: " + "[" * 20_000 + "]" * 20_000 + "\n"),
        "seeded_bugs/demo.yaml:2: refused: nested more than 64 levels deep",
    ),
    "NUL spelled as a YAML escape": (
        _write_key(ANSWER_KEY.replace("title: First bug", 'title: "First\\0 bug"')),
        "seeded_bugs/demo.yaml:6: refused: a NUL character (\\0) cannot be stored",
    ),
    "lone surrogate spelled as a YAML escape": (
        _write_key(ANSWER_KEY.replace("title: Second bug", 'title: "Second\\ud800 bug"')),
        "seeded_bugs/demo.yaml:13: refused: an unpaired UTF-16 surrogate",
    ),
    "oversized file": (
        _write_key(ANSWER_KEY + "# " + "x" * (3 * 1024 * 1024) + "\n"),
        "seeded_bugs/demo.yaml: the answer key is larger than 2 MB",
    ),
    "assessment folder is a symlink": (
        _link_folder_outside,
        "assessments/other: the assessment folder is a symbolic link",
    ),
    "snippet file is a symlink": (
        _link_snippet_outside,
        "assessments/demo/assessment.yaml:8: files[0]: snippet file 'pipeline.py': pipeline.py "
        "is a symbolic link",
    ),
    "answer key is a symlink": (
        _link_key,
        "seeded_bugs/demo.yaml: the answer key is a symbolic link",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CASES))
def test_hostile_content_is_refused_quickly_with_its_location(tmp_path: Path, case: str) -> None:
    write_content(tmp_path)
    mutate, expected = HOSTILE_CASES[case]
    mutate(tmp_path)
    started = time.monotonic()
    result = run_check(tmp_path)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr


def test_billion_laughs_names_the_line_of_the_alias_that_crosses_the_limit(tmp_path: Path) -> None:
    write_content(tmp_path)
    _write_key(_billion_laughs())(tmp_path)
    result = run_check(tmp_path)
    # a0..a3 expand to 12,345 values; a4 (line 5) would add 111,111 and crosses 100,000.
    assert (
        "seeded_bugs/demo.yaml:5: refused: expands to more than 100000 values" in result.stderr
    ), result.stderr


def test_a_broken_assessment_is_skipped_and_the_rest_load(tmp_path: Path) -> None:
    write_content(tmp_path)
    broken = tmp_path / "assessments" / "broken"
    broken.mkdir()
    (broken / "assessment.yaml").write_text("slug: broken\nfiles: " + "[" * 20_000 + "\n")
    (tmp_path / "seeded_bugs" / "broken.yaml").write_text("assessment: &a [*a]\n")
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "ok  demo: 1 files, 2 bugs, 1 decoys" in result.stdout
    assert "assessments/broken/assessment.yaml:2: refused: nested more than 64" in result.stderr
    assert "Traceback" not in result.stderr
