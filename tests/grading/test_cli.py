"""`python -m grading grade | evaluate | bench`, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading.conftest import FIXTURES, GO_ASSESSMENT, GO_BUGS, GO_REVIEWS, ROOT

FORMAT_4_KEYS = [
    "id",
    "total",
    "dimensions",
    "matches",
    "red_flags",
    "comments",
    "near_misses",
    "false_alarms",
    "needs_review",
]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grading", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def grade_args(reviews: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "grade",
        "--assessment",
        str(GO_ASSESSMENT),
        "--bugs",
        str(GO_BUGS),
        "--reviews",
        str(reviews),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        *extra,
    ]


def test_grade_writes_format_4_in_input_order(tmp_path: Path, cache_dir: Path) -> None:
    out = tmp_path / "scores.jsonl"
    result = run(*grade_args(GO_REVIEWS, out, cache_dir))
    assert result.returncode == 0, result.stderr
    scores = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [json.loads(line)["id"] for line in GO_REVIEWS.read_text().splitlines()]
    assert [s["id"] for s in scores] == ids
    assert all(list(s) == FORMAT_4_KEYS for s in scores)
    assert list(cache_dir.glob("grader-*.npz")), "the trained models are cached"
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal


def test_grade_explain_adds_evidence(tmp_path: Path, cache_dir: Path) -> None:
    out = tmp_path / "scores.jsonl"
    assert run(*grade_args(GO_REVIEWS, out, cache_dir, "--explain")).returncode == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert list(first) == [*FORMAT_4_KEYS, "evidence"]
    assert first["evidence"]["matches"][0]["explanation"].startswith("comment 1 points at")


def test_bad_lines_are_reported_and_skipped(tmp_path: Path, cache_dir: Path) -> None:
    good = GO_REVIEWS.read_text().splitlines()[:2]
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text(
        "\n".join(
            [
                good[0],
                '{"id": "x", "assessment": "go-quota", "comments": [{"body": "b", "line": "ten"}]}',
                "not json at all",
                '{"id": "y", "assessment": "docs-rag"}',
                good[1],
            ]
        )
        + "\n"
    )
    out = tmp_path / "scores.jsonl"
    result = run(*grade_args(reviews, out, cache_dir))
    assert result.returncode == 1
    assert f"{reviews}:2: comments[0].line: must be a whole line number" in result.stderr
    assert f"{reviews}:3: invalid JSON" in result.stderr
    assert f"{reviews}:4: assessment: review is for 'docs-rag'" in result.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [
        json.loads(good[0])["id"],
        json.loads(good[1])["id"],
    ]


def test_invalid_content_is_named(tmp_path: Path, cache_dir: Path) -> None:
    result = run(
        "grade",
        "--assessment",
        str(tmp_path / "nope"),
        "--bugs",
        str(GO_BUGS),
        "--reviews",
        str(GO_REVIEWS),
        "--out",
        str(tmp_path / "o.jsonl"),
    )
    assert result.returncode == 2
    assert "assessment.yaml" in result.stderr


def test_evaluate_with_holdout_across_languages(tmp_path: Path) -> None:
    # Two assessments, one Go and one Python: leave-one-out trains on the other language.
    root = tmp_path / "project"
    (root / "corpora" / "reviews").mkdir(parents=True)
    (root / "seeded_bugs").mkdir()
    shutil.copytree(GO_ASSESSMENT, root / "assessments" / "go-quota")
    shutil.copy(GO_BUGS, root / "seeded_bugs")
    shutil.copy(GO_REVIEWS, root / "corpora" / "reviews")
    shutil.copytree(ROOT / "assessments" / "docs-rag", root / "assessments" / "docs-rag")
    shutil.copy(ROOT / "seeded_bugs" / "docs-rag.yaml", root / "seeded_bugs")
    shutil.copy(ROOT / "corpora" / "reviews" / "docs-rag.jsonl", root / "corpora" / "reviews")
    report = tmp_path / "metrics.json"
    result = run("evaluate", "--holdout", "--root", str(root), "--json", str(report))
    assert result.returncode == 0, result.stderr
    assert "leave-one-assessment-out" in result.stdout
    assert "line_overlap" in result.stdout and "fuzzy_text" in result.stdout
    metrics = json.loads(report.read_text())
    assert [m["name"].split()[0] for m in metrics] == ["grader", "line_overlap", "fuzzy_text"]
    learned = metrics[0]["metrics"]
    assert set(learned) >= {
        "match",
        "dimensions",
        "total",
        "red_flags",
        "auto_graded_share",
        "wrong_matches_per_auto_review",
    }
    assert learned["match"]["f1"] > 0.5


def test_evaluate_in_sample_on_the_fixture() -> None:
    result = run(
        "evaluate",
        "--root",
        str(FIXTURES),
        "--reviews-dir",
        str(FIXTURES / "reviews"),
        "--in-sample",
        "--no-baselines",
    )
    assert result.returncode == 0, result.stderr
    assert "7 labelled reviews over 1 assessments (go-quota)" in result.stdout
    assert "trained on all (in-sample)" in result.stdout


def test_bench_says_what_it_measures_then_reports_end_to_end_and_latency(
    cache_dir: Path,
) -> None:
    result = run("bench", "--n", "300", "--singles", "30", "--cache-dir", str(cache_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bench: 300 synthetic reviews of ")
    assert "`python -m grading grade` on all 300 end to end in a fresh process" in lines[0]
    end_to_end = next(line for line in lines if line.startswith("end to end (grade command)"))
    assert "reviews/s by wall clock" in end_to_end and "per CPU second" in end_to_end
    assert "difflib baseline" in result.stdout and "p99" in result.stdout


def test_bench_unique_makes_every_comment_new_text(cache_dir: Path) -> None:
    result = run(
        "bench", "--n", "200", "--singles", "10", "--unique", "--cache-dir", str(cache_dir)
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    # The banner's own count of distinct comments, against the comments it says it grades.
    said = re.search(r"([\d.]+) comments each on average, ([\d,]+) distinct comment texts", first)
    assert said is not None, first
    per_review, distinct = float(said[1]), int(said[2].replace(",", ""))
    assert distinct >= int(200 * (per_review - 0.05)), first
    assert "end to end (grade command)" in result.stdout


def test_unique_reviews_repeat_no_text_and_keep_everything_else() -> None:
    from grading.bench import unique_reviews

    comment = {"body": "retry 3 times on timeout before giving up", "file": "a.py", "line": 4}
    objects = [
        {"id": f"r{i}", "assessment": "a", "comments": [comment, comment], "summary": "ok"}
        for i in range(50)
    ]
    varied = unique_reviews(objects)
    bodies = [c["body"] for o in varied for c in o["comments"]]
    assert len(set(bodies)) == len(bodies) == 100
    assert all(c["file"] == "a.py" and c["line"] == 4 for o in varied for c in o["comments"])
    assert [o["id"] for o in varied] == [o["id"] for o in objects]
    assert len({o["summary"] for o in varied}) == 50


def test_bench_names_an_unknown_assessment(cache_dir: Path) -> None:
    result = run("bench", "--n", "10", "--assessment", "no-such", "--cache-dir", str(cache_dir))
    assert result.returncode == 2
    assert "no assessment 'no-such' with labelled reviews" in result.stderr


class _Terminal:
    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.text = ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_bar_draws_only_on_a_terminal_for_large_batches() -> None:
    from grading.cli import Progress

    terminal, pipe, small = _Terminal(True), _Terminal(False), _Terminal(True)
    for stream, total in ((terminal, 1000), (pipe, 1000), (small, 10)):
        bar = Progress(total, stream=stream, label="grading")  # type: ignore[arg-type]
        for _ in range(total):
            bar.advance()
        bar.close()
    assert "1000/1000" in terminal.text and terminal.text.startswith("\rgrading [")
    assert pipe.text == "" and small.text == ""


def test_evaluate_reports_every_register_key_and_language(tmp_path: Path) -> None:
    # Two assessments in two languages, a second register and a second key variant for one of
    # them: the report finds all of them from the folders and holds each assessment out. A
    # sealed folder laid out the same way gets a row per register and key variant of its own.
    root = tmp_path / "project"
    sealed = root / "corpora" / "sealed"
    for folder in ("reviews", "brief/reviews", "brief/keys", "seeded_bugs"):
        (sealed / folder).mkdir(parents=True)
    shutil.copytree(GO_ASSESSMENT, sealed / "assessments" / "go-quota")
    shutil.copy(GO_BUGS, sealed / "seeded_bugs")
    shutil.copy(GO_BUGS, sealed / "brief" / "keys")
    shutil.copy(GO_REVIEWS, sealed / "reviews")
    shutil.copy(GO_REVIEWS, sealed / "brief" / "reviews")
    (root / "corpora" / "reviews").mkdir(parents=True)
    (root / "corpora" / "brief" / "reviews").mkdir(parents=True)
    (root / "corpora" / "brief" / "keys").mkdir(parents=True)
    (root / "seeded_bugs").mkdir()
    shutil.copytree(GO_ASSESSMENT, root / "assessments" / "go-quota")
    shutil.copy(GO_BUGS, root / "seeded_bugs")
    shutil.copy(GO_BUGS, root / "corpora" / "brief" / "keys")
    shutil.copy(GO_REVIEWS, root / "corpora" / "brief" / "reviews")
    shutil.copytree(ROOT / "assessments" / "docs-rag", root / "assessments" / "docs-rag")
    shutil.copy(ROOT / "seeded_bugs" / "docs-rag.yaml", root / "seeded_bugs")
    shutil.copy(ROOT / "corpora" / "reviews" / "docs-rag.jsonl", root / "corpora" / "reviews")
    report = tmp_path / "report.json"
    result = run("evaluate", "--root", str(root), "--no-cache", "--json", str(report))
    assert result.returncode == 0, result.stderr
    rows = json.loads(report.read_text())
    blocks = {(r["row"], r["tested"], r["trained"]) for r in rows}
    assert blocks == {
        ("held-out assessment", "prose reviews, full keys", "all registers, other assessments"),
        ("held-out assessment", "brief reviews, full keys", "all registers, other assessments"),
        ("held-out assessment", "brief reviews, brief keys", "all registers, other assessments"),
        ("cross-register", "prose reviews, full keys", "brief, other assessments"),
        ("cross-register", "brief reviews, full keys", "prose, other assessments"),
        ("language: go", "all registers, full keys", "all registers, other assessments"),
        ("language: python", "all registers, full keys", "all registers, other assessments"),
        *(
            (
                "sealed, unseen (go)",
                f"{register} reviews, {key} keys",
                "all registers, all assessments",
            )
            for register in ("prose", "brief")
            for key in ("full", "brief")
        ),
    }
    assert {r["config"] for r in rows} == {"grader", "line_overlap", "fuzzy_text"}
    by_block = {(r["row"], r["tested"], r["config"]): r for r in rows}
    go = by_block[("language: go", "all registers, full keys", "grader")]
    assert go["n_reviews"] == 7 and go["metrics"]["assessments"] == ["go-quota"]
    assert -1.0 <= go["metrics"]["bug_kappa"] <= 1.0
    assert "cross-register | tested on brief reviews, full keys | trained on prose" in (
        result.stdout
    )
    # Which dimension is off, and which way: every row says it beneath its totals.
    assert set(go["metrics"]["dimensions"]["tradeoffs"]) >= {"mae", "bias", "weighted_mae"}
    assert result.stdout.count("tradeoffs MAE") == len(rows)
    # Finds missed without a human asked to look are the silent failures: every row says them.
    assert result.stdout.count("miss/auto") == len(blocks) + 1


def test_evaluate_exclude_names_an_unknown_assessment() -> None:
    result = run("evaluate", "--exclude", "no-such-slug", "--no-cache")
    assert result.returncode == 2
    assert "--exclude: no assessment no-such-slug" in result.stderr


def test_evaluate_on_unseen_content_trains_on_the_corpora_only() -> None:
    result = run("evaluate", "--unseen", str(FIXTURES), "--no-baselines")
    assert result.returncode == 0, result.stderr
    assert "7 labelled reviews over 1 assessments (go-quota)" in result.stdout
    assert "grader (unseen assessments)" in result.stdout


def test_agreement_reports_the_sealed_sets_second_labels_in_rows_of_their_own(
    tmp_path: Path,
) -> None:
    # The same labels twice over agree perfectly; what matters is that each set's second labels
    # are paired with its own first labels and named apart.
    root = tmp_path / "project"
    for corpora in (root / "corpora", root / "corpora" / "sealed"):
        content = root if corpora.name == "corpora" else corpora
        (corpora / "reviews").mkdir(parents=True, exist_ok=True)
        (corpora / "agreement" / "prose").mkdir(parents=True)
        (content / "seeded_bugs").mkdir(exist_ok=True)
        shutil.copytree(GO_ASSESSMENT, content / "assessments" / "go-quota")
        shutil.copy(GO_BUGS, content / "seeded_bugs")
        shutil.copy(GO_REVIEWS, corpora / "reviews")
        shutil.copy(GO_REVIEWS, corpora / "agreement" / "prose")
    result = run("agreement", "--root", str(root))
    assert result.returncode == 0, result.stderr
    rows = [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [
        "prose/go-quota",
        "prose (all)",
        "all",
        "sealed prose/go-quota",
        "sealed prose (all)",
        "sealed all",
    ]
    assert all(row[1] == "7" and row[2] == "1.0" for row in rows)  # reviews, bug kappa
