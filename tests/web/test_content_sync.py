"""Content sync is idempotent and versions an assessment only when its content changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service
from app.assessments.models import Assessment
from tests.test_content_check import write_content


def test_sync_creates_then_keeps_then_versions(session: Session, tmp_path: Path) -> None:
    write_content(tmp_path)
    content = (tmp_path / "assessments", tmp_path / "seeded_bugs")

    actions, problems = service.sync_content(session, *content)
    assert problems == ()
    assert [str(a) for a in actions] == ["demo: created, version 1"]

    actions, _ = service.sync_content(session, *content)
    assert [str(a) for a in actions] == ["demo: unchanged, still version 1"]

    key = tmp_path / "seeded_bugs" / "demo.yaml"
    key.write_text(key.read_text().replace("Something breaks.", "Something breaks badly."))
    actions, _ = service.sync_content(session, *content)
    assert [str(a) for a in actions] == ["demo: changed, new version 2"]

    demo = session.scalars(select(Assessment).where(Assessment.slug == "demo")).one()
    assert [v.number for v in demo.versions] == [1, 2]
    first, second = demo.versions
    assert first.bugs[0].description == "Something breaks."
    assert second.bugs[0].description == "Something breaks badly."
    assert [b.key for b in second.bugs] == ["first-bug", "second-bug"]
    assert second.bugs[1].lines == [[10, 12], [30, 31]]
    assert [d.key for d in second.decoys] == ["odd-but-fine"]


def test_sync_round_trips_into_grading_types(session: Session, tmp_path: Path) -> None:
    write_content(tmp_path)
    service.sync_content(session, tmp_path / "assessments", tmp_path / "seeded_bugs")
    demo = service.get_assessment(session, "demo")
    assessment, key = service.to_grading(service.current_version(session, demo))
    assert assessment.slug == "demo" and assessment.files[0].name == "pipeline.py"
    assert assessment.time_limit_minutes == 90
    assert [(b.id, b.rank, b.subtle) for b in key.bugs] == [
        ("first-bug", 1, False),
        ("second-bug", 2, True),
    ]
    assert key.bugs[1].lines[1].start == 30


def test_cli_sync_and_db_commands(tmp_path: Path) -> None:
    write_content(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["REDLINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"

    def redline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert redline("db", "current").returncode == 1
    assert redline("db", "upgrade").stdout == "database migrated to head\n"
    assert redline("db", "current").returncode == 0
    first = redline("content", "sync", str(tmp_path))
    assert (first.returncode, first.stdout) == (0, "demo: created, version 1\n")
    again = redline("content", "sync", str(tmp_path))
    assert again.stdout == "demo: unchanged, still version 1\n"
    key = tmp_path / "seeded_bugs" / "demo.yaml"
    key.write_text(key.read_text().replace("Something breaks.", "Something breaks badly."))
    drafted = redline("content", "sync", "--draft", str(tmp_path))
    assert (drafted.returncode, drafted.stdout) == (0, "demo: new draft version 2\n")
    published = redline("content", "sync", str(tmp_path))
    assert published.stdout == "demo: published draft version 2\n"

    (tmp_path / "seeded_bugs" / "demo.yaml").write_text("assessment: demo\nbugs: [\n")
    broken = redline("content", "sync", str(tmp_path))
    assert broken.returncode == 1
    assert "seeded_bugs/demo.yaml:3: invalid YAML" in broken.stderr
    assert "were not loaded" in broken.stderr
