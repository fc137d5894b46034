"""`redline serve` starts on a fresh data directory: it migrates SQLite, loads the shipped
content and answers; invalid settings stop it with a message naming the variable."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REDLINE = [sys.executable, "-m", "app.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDLINE_DATABASE_URL", "DATABASE_URL", "REDLINE_SECRET_KEY"}
    }
    env["REDLINE_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_on_a_fresh_machine_answers_with_content_loaded(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*REDLINE, "serve", "--port", str(port), "--workers", "2"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the service did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200, body
        assert '"up_to_date":true' in body.replace(" ", "")
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        secret = tmp_path / "data" / "secret_key"
        assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "content: " in output and "created, version 1" in output


def test_invalid_settings_stop_the_service_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [*REDLINE, "serve"],
        env=_env(tmp_path, REDLINE_BASE_URL="ftp://x", SECRET_KEY="short"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Redline cannot start: the configuration is invalid." in result.stderr
    assert "REDLINE_BASE_URL: Value error, must start with http:// or https://" in result.stderr


def _wait_healthy(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            _get(f"http://127.0.0.1:{port}/healthz")
            return
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the service did not answer within 90 s"
            time.sleep(0.2)


def test_invite_links_follow_the_port_the_service_listens_on(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path)
    env.pop("REDLINE_BASE_URL", None)
    process = subprocess.Popen(
        [*REDLINE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(process, port)
        made = subprocess.run(
            [*REDLINE, "invite", "create", "--assessment", "docs-rag", "--name", "Port Test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"http://127.0.0.1:{port}/i/"), made.stdout
    finally:
        process.terminate()
        process.communicate(timeout=30)
    # Once the service stops, links fall back to the configured default.
    after = subprocess.run(
        [*REDLINE, "invite", "create", "--assessment", "docs-rag"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert after.stdout.startswith("http://127.0.0.1:8000/i/"), after.stderr


def test_make_run_takes_a_port() -> None:
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    assert "redline serve --host 127.0.0.1 --port 8123" in dry.stdout


def test_commands_on_an_unmigrated_database_say_so(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (tmp_path / "data").mkdir()
    for command in (["content", "sync"], ["invite", "create", "--assessment", "docs-rag"]):
        result = subprocess.run(
            [*REDLINE, *command], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert (
            "error: the database is at revision (empty, never migrated), the code needs"
            in result.stderr
        )
        assert "Run `redline db upgrade` first." in result.stderr


def test_a_broken_assessment_does_not_stop_the_service(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    content = tmp_path / "content"
    shutil.copytree(root / "assessments" / "docs-rag", content / "assessments" / "docs-rag")
    (content / "seeded_bugs").mkdir()
    shutil.copy(root / "seeded_bugs" / "docs-rag.yaml", content / "seeded_bugs")
    broken = content / "assessments" / "broken"
    broken.mkdir()
    (broken / "assessment.yaml").write_text("slug: broken\nfiles: " + "[" * 20_000 + "\n")
    (content / "seeded_bugs" / "broken.yaml").write_text("assessment: &a [*a]\n")
    port = _free_port()
    process = subprocess.Popen(
        [*REDLINE, "serve", "--port", str(port)],
        env=_env(
            tmp_path,
            REDLINE_ASSESSMENTS_DIR=str(content / "assessments"),
            REDLINE_SEEDED_BUGS_DIR=str(content / "seeded_bugs"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(process, port)
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "content: docs-rag: created, version 1" in output
    assert (
        "content error: assessments/broken/assessment.yaml:2: refused: nested more than 64"
        in output
    )
    assert "seeded_bugs/broken.yaml:1: refused: an alias refers to a collection" in output
    assert "RecursionError" not in output
