"""Learning from graders: `redline retrain` reports old and new held out and switches only when
no worse; every auto-score names its model; the admin page runs a retrain; model files load
with no pickle."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth import SESSION_COOKIE
from app.db import get_sessionmaker
from app.main import create_app
from app.reviews import decisions
from app.scoring import active
from app.scoring import service as scoring_service
from app.scoring.learning import decided_reviews
from app.security import csrf_token_for
from app.settings import PROJECT_ROOT, get_settings
from app.users import service as users_service
from app.users.models import Role
from grading.models import Models
from grading.registry import ModelInfo, Registry, new_version
from grading.training import load_corpus, train_models
from tests.web.factories import make_auto_score, make_submission, make_user, score_dict, sign_in

SMALL = ("llm-gateway-client", "docs-rag")  # assessments of the small training corpus
PER_ASSESSMENT = 6


@pytest.fixture(scope="module")
def small_corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few labelled reviews of two shipped assessments: enough to train in seconds."""
    folder = tmp_path_factory.mktemp("corpora")
    (folder / "reviews").mkdir()
    for slug in SMALL:
        lines = (PROJECT_ROOT / "corpora" / "reviews" / f"{slug}.jsonl").read_text().splitlines()
        kept = [line for line in lines if line.strip()][:PER_ASSESSMENT]
        (folder / "reviews" / f"{slug}.jsonl").write_text("\n".join(kept) + "\n")
    return folder


@pytest.fixture(scope="module")
def small_models(small_corpora: Path) -> Models:
    return train_models(load_corpus(PROJECT_ROOT, corpora_dir=small_corpora))


@pytest.fixture
def models_home(
    tmp_path: Path, small_corpora: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A data directory of this test's own, so no model it switches in grades other tests."""
    settings = get_settings()
    monkeypatch.setattr(settings, "data_dir", tmp_path / "data")
    monkeypatch.setattr(settings, "corpora_dir", small_corpora)
    active.forget()
    yield tmp_path / "data"
    active.forget()


def _finalized(session: Session) -> int:
    """A submission with an auto-score and a grader's decisions on it, finalized."""
    grader = make_user(session, role=Role.grader)
    submission = make_submission(
        session,
        comments=[
            {"body": "The cache key ignores the request parameters.", "line": 12},
            {"body": "Retrying a stream replays chunks the caller already got.", "line": 30},
            {"body": "Usage counts are dropped when the stream ends.", "line": 44},
        ],
        summary="Fix the cache key first.",
    )
    make_auto_score(session, submission, score_dict())
    sid = submission.id
    d = decisions.decide_match(
        session,
        sid,
        grader,
        version=0,
        bug="cache-key-ignores-params",
        comment=0,
        verdict="confirmed",
    )
    d = decisions.decide_match(
        session,
        sid,
        grader,
        version=d.version,
        bug="stream-retry-duplicates",
        comment=1,
        verdict="rejected",
    )
    d = decisions.decide_match(
        session,
        sid,
        grader,
        version=d.version,
        bug="stream-usage-lost",
        comment=2,
        verdict="added",
    )
    d = decisions.decide_flag(
        session,
        sid,
        grader,
        version=d.version,
        kind="no_questions",
        comment=-1,
        verdict="confirmed",
    )
    d = decisions.override_dimension(
        session,
        sid,
        grader,
        version=d.version,
        dimension="tradeoffs",
        value=25.0,
        reason="weighs no tradeoff",
    )
    decisions.finalize(session, sid, grader, version=d.version)
    return sid


def test_decisions_become_labelled_reviews(session: Session) -> None:
    sid = _finalized(session)
    found = next(d for d in decided_reviews(session) if d.source == sid)
    gold = found.item.gold
    assert gold.complete and found.key == "llm-gateway-client@v1"
    assert set(gold.matches) == {("cache-key-ignores-params", 0), ("stream-usage-lost", 2)}
    assert ("stream-retry-duplicates", 1, False) in gold.verdicts
    assert gold.dimensions["tradeoffs"] == 25.0
    assert [k for k, _ in gold.comments] == ["defect", "", "defect"]


def _redline(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDLINE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "retrain", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_cli_reports_old_and_new_and_keeps_the_old_when_worse(
    engine: Engine, tmp_path: Path, small_corpora: Path
) -> None:
    with get_sessionmaker().begin() as session:
        _finalized(session)
    data = tmp_path / "data"
    corpora = ("--corpora-dir", str(small_corpora))

    # Other tests leave decisions of their own in this database: however the new models
    # measure, this first run may switch.
    first = _redline(data, *corpora, "--f1-tolerance", "1", "--mae-tolerance", "100")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "held out" in out and "all held out" in out
    for slug in SMALL:
        assert slug in out
    assert out.count(" old ") >= 3 and out.count(" new ") >= 3
    assert "finalized grades" in out and "match verdicts" in out
    assert "Switched to" in out
    registry = Registry(data / "models")
    switched = registry.active_version()
    assert switched is not None and switched in out
    assert registry.info(switched).decisions  # the decisions it learned from are named

    # Demanding a held-out gain of 100 points of MAE: no model can give it, the old one stays.
    worse = _redline(data, *corpora, "--mae-tolerance", "-100")
    assert worse.returncode == 0, worse.stderr
    assert f"Kept {switched}" in worse.stdout and "worse held out on total MAE" in worse.stdout
    assert registry.active_version() == switched
    kept = [i for i in registry.history() if not i.report["activated"]]
    assert len(kept) == 1 and kept[0].report["old_version"] == switched

    forced = _redline(data, *corpora, "--mae-tolerance", "-100", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "because it was forced" in forced.stdout
    assert registry.active_version() not in (None, switched)


def test_cli_names_a_missing_corpora_folder(tmp_path: Path) -> None:
    result = _redline(tmp_path, "--corpora-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "--corpora-dir" in result.stderr


def _register(registry: Registry, models: Models) -> str:
    version = new_version(models, datetime.now(UTC))
    registry.save(models, ModelInfo(version, "2026-12-07T00:00:00+00:00", models.version))
    return version


def test_every_new_auto_score_names_its_model_and_a_switch_needs_no_restart(
    session: Session, client: TestClient, models_home: Path, small_models: Models
) -> None:
    registry = active.registry()
    first = _register(registry, small_models)
    registry.activate(first)
    submission = make_submission(session, comments=["The cache key ignores the params."])
    score = scoring_service.score_submission(session, submission)
    assert score.model_version == first

    user = make_user(session, role=Role.grader)
    sign_in(client, session, user)
    page = client.get(f"/staff/submissions/{submission.id}")
    assert page.status_code == 200 and first in page.text

    # Another worker switches: this one picks it up at its next grading, no restart.
    second = first[:-8] + "0" * 8
    registry.save(small_models, ModelInfo(second, "2026-12-07T00:00:01+00:00", "x"))
    time.sleep(0.01)
    registry.activate(second)
    again = scoring_service.score_submission(session, submission)
    assert again.model_version == second

    exported = client.get("/staff/export.json")
    assert exported.status_code == 200
    row = next(r for r in exported.json() if r["submission"] == submission.id)
    assert row["auto_model_version"] == second


def test_a_tampered_or_pickled_model_file_is_refused(
    models_home: Path, small_models: Models
) -> None:
    import numpy as np

    from grading.errors import ModelError

    registry = active.registry()
    version = _register(registry, small_models)
    path = models_home / "models" / f"{version}.npz"
    with path.open("wb") as handle:  # an object array can only be read by unpickling it
        np.savez(handle, meta=np.array([{"format": 2}], dtype=object))
    with pytest.raises(ModelError, match="pickle"):
        registry.load(version)
    with pytest.raises(ModelError, match="pickle"):
        registry.activate(version)
    path.write_bytes(b"\x80\x04\x95 not a model")
    with pytest.raises(ModelError, match=version):
        registry.load(version)
    (models_home / "models" / "active.json").write_text('{"version": "../../etc/passwd"}')
    with pytest.raises(ModelError, match="no valid model version"):
        active.current()


def test_admin_page_retrains_in_the_background_and_refuses_a_second_click(
    engine: Engine, models_home: Path
) -> None:
    # Committed, and a client with sessions of its own: the retrain thread writes its audit
    # event, which a test transaction holding the database would block.
    with get_sessionmaker().begin() as session:
        admin = make_user(session, role=Role.admin)
        token = users_service.start_session(session, admin)
    client = TestClient(create_app())
    client.cookies.set(SESSION_COOKIE, token)
    csrf = csrf_token_for(token)
    page = client.get("/staff/models")
    assert page.status_code == 200 and "shipped models grade" in page.text
    assert "No retrain yet" in page.text

    registry = active.registry()
    with registry.retrain_lock(label="someone else"):
        refused = client.post("/staff/models/retrain", data={"csrf_token": csrf})
        assert refused.status_code == 409 and "already running" in refused.text
        assert "someone else" in refused.text

    started = client.post(
        "/staff/models/retrain", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert started.status_code == 303
    deadline = time.monotonic() + 300
    while registry.running() is not None or not registry.history():
        assert time.monotonic() < deadline, "the retrain did not finish in 5 minutes"
        time.sleep(0.5)
    page = client.get("/staff/models")
    assert page.status_code == 200
    version = registry.history()[0].version
    assert version in page.text and "side by side" in page.text
    assert "Switched to" in page.text or "Kept" in page.text
    assert "failed" not in page.text


@pytest.mark.parametrize("role", [Role.grader, Role.author])
def test_the_models_page_is_for_admins_only(
    session: Session, client: TestClient, role: Role, models_home: Path
) -> None:
    csrf = sign_in(client, session, make_user(session, role=role))
    assert client.get("/staff/models").status_code == 403
    assert client.post("/staff/models/retrain", data={"csrf_token": csrf}).status_code == 403
    assert not (models_home / "models").exists()


def test_a_retrain_form_without_its_csrf_token_is_refused(
    session: Session, client: TestClient, models_home: Path
) -> None:
    sign_in(client, session, make_user(session, role=Role.admin))
    assert client.post("/staff/models/retrain", data={}).status_code == 403
    assert json.dumps(active.registry().history(), default=str) == "[]"


def test_the_models_page_gives_times_as_the_other_pages_do(
    session: Session, client: TestClient, models_home: Path, small_models: Models
) -> None:
    registry = active.registry()
    version = _register(registry, small_models)
    registry.activate(version)
    sign_in(client, session, make_user(session, role=Role.admin))
    with registry.retrain_lock(label="someone else"):
        page = client.get("/staff/models").text
    assert f"Active model <code>{version}</code>, trained 2026-12-07 00:00 UTC" in page
    assert "T00:00:00+00:00" not in page
    started = re.search(r"A retrain is running, started ([^.]*?) by someone else", page)
    assert started and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", started.group(1))
