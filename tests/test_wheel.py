"""The wheel carries everything the service needs: built here, installed into a fresh venv in
another folder, it makes a site with `redline init`, migrates, serves /healthz and grades a
batch of reviews, without the repository anywhere on its path."""

from __future__ import annotations

import json
import os
import site
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-4000:])
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wheel_installs_and_runs_anywhere(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REDLINE_") and k not in {"DATABASE_URL", "SECRET_KEY", "PYTHONPATH"}
    }
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        cwd=tmp_path,
        env=env,
    )
    (wheel,) = dist.glob("redline-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    packages = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
            env=env,
        ).strip()
    )
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--quiet", str(wheel)],
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    # The dependencies (FastAPI, scikit-learn, ...) come from this environment, so the test
    # needs no network; as a plain path entry, its editable install of Redline stays inactive.
    (packages / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    where = _run(
        [str(python), "-c", "import app, grading; print(app.__file__); print(grading.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert all(line.startswith(str(packages)) for line in where.split()), where
    reference = _run(
        [str(python), "-c", "from app.resources import reference_dir; print(reference_dir())"],
        cwd=tmp_path,
        env=env,
    ).strip()
    assert reference.startswith(str(packages)), reference
    assert sorted(p.name for p in Path(reference).iterdir()) == ["formats.md", "rubric.md"]

    redline = str(venv / "bin" / "redline")
    site_dir = tmp_path / "site"
    _run([redline, "init", str(site_dir)], cwd=tmp_path, env=env)
    assert sorted(p.name for p in (site_dir / "assessments").iterdir()) == sorted(
        p.name for p in (ROOT / "assessments").iterdir() if p.is_dir()
    )
    assert _run([redline, "db", "upgrade"], cwd=site_dir, env=env) == "database migrated to head\n"
    synced = _run([redline, "content", "sync"], cwd=site_dir, env=env)
    assert "docs-rag: created, version 1" in synced
    assert (site_dir / "var" / "redline.sqlite3").is_file()

    port = _free_port()
    server = subprocess.Popen(
        [redline, "serve", "--port", str(port)],
        cwd=site_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    health = json.loads(r.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the installed service did not answer"
                time.sleep(0.3)
        assert (health["database"], health["migrations"]["up_to_date"]) == ("ok", True), health
    finally:
        server.terminate()
        server.communicate(timeout=30)

    reviews = site_dir / "reviews.jsonl"
    lines = (ROOT / "corpora" / "reviews" / "docs-rag.jsonl").read_text().splitlines()[:2]
    reviews.write_text("\n".join(lines) + "\n")
    _run(
        [str(python), "-m", "grading", "grade", "--assessment", "assessments/docs-rag",
         "--bugs", "seeded_bugs/docs-rag.yaml", "--reviews", str(reviews),
         "--out", "scores.jsonl"],
        cwd=site_dir,
        env=env,
    )  # fmt: skip
    scores = [json.loads(line) for line in (site_dir / "scores.jsonl").read_text().splitlines()]
    assert [s["id"] for s in scores] == [json.loads(line)["id"] for line in lines]
    assert all(0 <= s["total"] <= 100 for s in scores)
