"""A deadline rush against a real `redline serve`, on loopback, bounded in time.

N candidates open their invites within a couple of seconds, press Start, autosave every few
seconds and submit at the end; graders sign in and work the queue; one more staff member
signs in again and again throughout. Then every acknowledged save and submission is checked
against the database. With --kill-at, the whole server is killed with SIGKILL in the middle
of the rush and started again; clients retry as the page does.

    python benchmarks/load.py                                  # SQLite, 200 candidates
    python benchmarks/load.py --database-url postgresql+psycopg://u@127.0.0.1:5432/db \\
        --workers 2 --candidates 200
    python benchmarks/load.py --candidates 100 --kill-at 15    # the fault run

The database must be empty or new (PostgreSQL: it is emptied first). Prints p50/p95/p99 per
endpoint and errors by status; exits 1 on any 5xx, failed request or lost save.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ASSESSMENT = "llm-gateway-client"
GRADER_PASSWORD = "bench-password-" + secrets.token_hex(8)
REQUEST_TIMEOUT = 30.0


@dataclass
class Stats:
    """Latencies per endpoint and outcomes per status."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    in_fault_window: Counter[str] = field(default_factory=Counter)
    fault_window: tuple[float, float] | None = None
    # (endpoint, seconds since the rush began when sent, latency, status), for --trace.
    trace: list[tuple[str, float, float, int]] = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)

    def record(self, name: str, started: float, status: int) -> None:
        """One request's outcome (status 0: no answer)."""
        latency = time.perf_counter() - started
        self.latencies[name].append(latency)
        self.statuses[(name, status)] += 1
        self.trace.append((name, started - self.began, latency, status))


@dataclass
class Candidate:
    """One candidate's client and what the server acknowledged."""

    token: str
    client: httpx.AsyncClient
    csrf: str = ""
    revision: int = 0
    acked: dict[str, Any] | None = None
    unacked: list[dict[str, Any]] = field(default_factory=list)
    receipt_digest: str | None = None
    submission_id: str | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _call(
    stats: Stats, name: str, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        stats.record(name, started, 0)
        window = stats.fault_window
        if window and window[0] <= time.monotonic() <= window[1]:
            stats.in_fault_window[name] += 1
        else:
            stats.failures.append(f"{name}: {type(exc).__name__}")
        return None
    stats.record(name, started, response.status_code)
    if response.status_code >= 500:
        window = stats.fault_window
        if window and window[0] <= time.monotonic() <= window[1]:
            stats.in_fault_window[name] += 1
        else:
            stats.failures.append(f"{name}: {response.status_code} {response.text[:200]}")
    return response


def _draft(candidate: Candidate, step: int, save_id: str) -> dict[str, Any]:
    comments = [
        {
            "client_id": f"c{n}",
            "file": "client.py",
            "line": 1 + n,
            "severity": "major",
            "body": f"Comment {n}, edit {step}: the retry loop never backs off. " * 4,
        }
        for n in range(1 + step % 6)
    ]
    return {
        "base_revision": candidate.revision,
        "save_id": save_id,
        "comments": comments,
        "summary": f"Summary at edit {step}.",
    }


async def _retrying(
    stats: Stats, name: str, candidate: Candidate, method: str, url: str, deadline: float, **kw: Any
) -> httpx.Response | None:
    """Send until answered below 500 (as the page does), or until `deadline`."""
    wait = 0.5
    while True:
        response = await _call(stats, name, candidate.client, method, url, **kw)
        if response is not None and response.status_code < 500 and response.status_code != 429:
            return response
        if time.monotonic() > deadline:
            return response
        await asyncio.sleep(wait)
        wait = min(4.0, wait * 2)


async def run_candidate(
    stats: Stats, candidate: Candidate, arrive_at: float, end_at: float, every: float
) -> None:
    """Open, start, autosave until `end_at`, submit."""
    await asyncio.sleep(max(0.0, arrive_at - time.monotonic()))
    give_up = end_at + 60
    opened = await _retrying(
        stats, "GET /i/{token}", candidate, "GET", f"/i/{candidate.token}", give_up
    )
    if opened is None or opened.status_code != 303:
        stats.failures.append(f"open: {opened.status_code if opened else 'no answer'}")
        return
    state = await _retrying(
        stats, "GET /api/candidate", candidate, "GET", "/api/candidate", give_up
    )
    if state is None or state.status_code != 200:
        stats.failures.append(f"state: {state.status_code if state else 'no answer'}")
        return
    candidate.csrf = state.json()["csrf_token"]
    headers = {"X-CSRF-Token": candidate.csrf, "Content-Type": "application/json"}
    started = await _retrying(
        stats,
        "POST /api/candidate/start",
        candidate,
        "POST",
        "/api/candidate/start",
        give_up,
        headers=headers,
    )
    if started is None or started.status_code != 200:
        stats.failures.append(f"start: {started.status_code if started else 'no answer'}")
        return
    candidate.revision = started.json()["draft"]["revision"]
    candidate.submission_id = started.json()["submission_id"]
    step = 0
    while time.monotonic() < end_at:
        await asyncio.sleep(every * (0.8 + 0.4 * random.random()))
        step += 1
        save_id = f"s{secrets.token_hex(6)}"
        body = _draft(candidate, step, save_id)
        candidate.unacked.append(body)
        response = await _retrying(
            stats,
            "PUT /api/candidate/draft",
            candidate,
            "PUT",
            "/api/candidate/draft",
            give_up,
            headers=headers,
            content=json.dumps(body),
        )
        if response is not None and response.status_code == 200:
            candidate.revision = response.json()["draft"]["revision"]
            candidate.acked = body
            candidate.unacked = []
        elif response is not None:
            stats.failures.append(f"save: {response.status_code} {response.text[:200]}")
    submitted = await _retrying(
        stats,
        "POST /api/candidate/submit",
        candidate,
        "POST",
        "/api/candidate/submit",
        give_up,
        headers=headers,
    )
    if submitted is not None and submitted.status_code == 200:
        candidate.receipt_digest = submitted.json()["content_digest"]
    else:
        stats.failures.append(f"submit: {submitted.status_code if submitted else 'no answer'}")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else ""


async def sign_in(stats: Stats, client: httpx.AsyncClient, email: str) -> bool:
    """Sign in through the form; True on success."""
    page = await _call(stats, "GET /login", client, "GET", "/login")
    if page is None:
        return False
    response = await _call(
        stats,
        "POST /login",
        client,
        "POST",
        "/login",
        data={"email": email, "password": GRADER_PASSWORD, "csrf_token": _csrf(page.text)},
    )
    ok = response is not None and response.status_code == 303
    if response is not None and not ok and response.status_code < 500:
        stats.failures.append(f"sign-in: {response.status_code}")
    return ok


async def run_grader(stats: Stats, base: str, email: str, end_at: float) -> None:
    """Sign in, then load the queue and open submissions from it until `end_at`."""
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        while not await sign_in(stats, client, email):
            if time.monotonic() > end_at:
                return
            await asyncio.sleep(1)
        while time.monotonic() < end_at:
            queue = await _call(stats, "GET /staff/queue", client, "GET", "/staff/queue?status=all")
            ids = re.findall(r'href="/staff/submissions/(\d+)"', queue.text if queue else "")
            if ids:
                target = random.choice(ids)
                await _call(
                    stats,
                    "GET /staff/submissions/{id}",
                    client,
                    "GET",
                    f"/staff/submissions/{target}",
                )
            await asyncio.sleep(1.0)


async def run_sign_ins(stats: Stats, base: str, email: str, end_at: float) -> None:
    """A staff member signing in afresh every two seconds: sign-in must work under load."""
    while time.monotonic() < end_at:
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            await sign_in(stats, client, email)
        await asyncio.sleep(2.0)


# -- the server ------------------------------------------------------------------------------


def _env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        REDLINE_DATABASE_URL=database_url,
        REDLINE_DATA_DIR=str(data_dir),
        REDLINE_BASE_URL=f"http://127.0.0.1:{port}",
        REDLINE_SECRET_KEY=secrets.token_urlsafe(48),
    )
    return env


def start_server(
    env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    """`redline serve` in its own process group; waits until /healthz answers 200."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "info",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped at start; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within 120 s; see {log}")


def kill_server(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every worker (its process group)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU time (user + system) used so far by the live processes of a process group: the
    server and its workers. None where /proc is not there to read it."""
    total = 0
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return None
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        # After the command name: state, ppid, pgrp, ..., utime (12th), stime (13th).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server politely, then firmly."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill_server(process)
    except ProcessLookupError:
        pass


def prepare(
    env: dict[str, str], candidates: int, graders: int, *, train: bool = True
) -> tuple[list[str], list[str]]:
    """Migrate, load content, create graders and invites; returns tokens and grader e-mails."""
    for command in (["db", "upgrade"], ["content", "sync"]):
        subprocess.run(
            [sys.executable, "-m", "app.cli", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    script = f"""
import json, sys
from app.db import get_sessionmaker
from app.invites import service as invites
from app.users import service as users
emails = [f"grader{{n}}@bench.test" for n in range({graders + 1})]
with get_sessionmaker().begin() as session:
    for email in emails:
        users.create_user(session, email=email, name=email, role="grader",
                          password={GRADER_PASSWORD!r}, actor="bench")
    tokens = [invites.create_invite(session, assessment={ASSESSMENT!r},
                                    candidate_name=f"Candidate {{n}}", actor="bench").token
              for n in range({candidates})]
if {train!r}:
    # A deployed service has trained its grader once and keeps it in the data directory.
    from app.scoring.service import default_grader
    default_grader()
json.dump({{"tokens": tokens, "emails": emails}}, sys.stdout)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(result.stdout)
    return data["tokens"], data["emails"]


def empty_postgresql(url: str) -> None:
    """Drop every table of a PostgreSQL database, so the run starts from an empty schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# -- verification ----------------------------------------------------------------------------


def _digest_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def verify(env: dict[str, str], candidates: list[Candidate]) -> list[str]:
    """Every acknowledged save and submission, compared with what the database holds."""
    expected = {
        c.submission_id: {
            "acked": c.acked,
            "unacked": c.unacked,
            "receipt": c.receipt_digest,
        }
        for c in candidates
        if c.submission_id
    }
    script = """
import json, sys
from sqlalchemy import select
from app.db import get_sessionmaker
from app.submissions.models import Submission
ids = json.load(sys.stdin)
out = {}
with get_sessionmaker()() as session:
    for s in session.scalars(select(Submission).where(Submission.public_id.in_(ids))):
        out[s.public_id] = {
            "status": s.status.value, "digest": s.content_digest, "summary": s.summary,
            "comments": [{"client_id": c.client_id, "file": c.file, "line": c.line,
                          "severity": c.severity, "body": c.body} for c in s.comments],
        }
json.dump(out, sys.stdout)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        input=json.dumps(list(expected)),
    )
    stored = json.loads(result.stdout)
    problems = []
    for submission_id, want in expected.items():
        row = stored.get(submission_id)
        if row is None:
            problems.append(f"{submission_id}: missing")
            continue
        content = {"comments": row["comments"], "summary": row["summary"]}
        allowed = [want["acked"], *want["unacked"]] if want["acked"] else [None, *want["unacked"]]
        matches = any(
            (a is None and not row["comments"] and not row["summary"])
            or (a is not None and content == _strip(a))
            for a in allowed
        )
        if not matches:
            problems.append(f"{submission_id}: the stored draft is not the last acknowledged save")
        if want["receipt"] and (row["status"] == "in_progress" or row["digest"] != want["receipt"]):
            problems.append(f"{submission_id}: the acknowledged submission is not stored as such")
    return problems


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "comments": [
            {k: c[k] for k in ("client_id", "file", "line", "severity", "body")}
            for c in body["comments"]
        ],
        "summary": body["summary"],
    }


# -- the run ---------------------------------------------------------------------------------


def report(stats: Stats, elapsed: float) -> None:
    """Latency per endpoint and answers by status."""
    print(f"\n{'endpoint':34} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name in sorted(stats.latencies):
        values = sorted(stats.latencies[name])
        q = (
            statistics.quantiles(values, n=100, method="inclusive")
            if len(values) > 1
            else values * 99
        )

        def ms(x: float) -> str:
            return f"{1000 * x:8.0f}"

        print(f"{name:34} {len(values):6d} {ms(q[49])} {ms(q[94])} {ms(q[98])} {ms(values[-1])}")
    print("\nanswers by status:")
    by_status: Counter[int] = Counter()
    for (_name, status), count in stats.statuses.items():
        by_status[status] += count
    for status, count in sorted(by_status.items()):
        label = "no answer" if status == 0 else str(status)
        print(f"  {label:10} {count}")
    if stats.in_fault_window:
        print(
            f"  failed while the server was down (retried): {sum(stats.in_fault_window.values())}"
        )
    print(f"\n{sum(by_status.values())} requests in {elapsed:.1f} s")


async def rush(
    args: argparse.Namespace, base: str, tokens: list[str], emails: list[str], on_kill: Any
) -> tuple[Stats, list[Candidate], float]:
    stats = Stats()
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    candidates = [
        Candidate(
            token=t, client=httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT, limits=limits)
        )
        for t in tokens
    ]
    start = time.monotonic()
    stats.began = time.perf_counter()
    end_at = start + args.arrival + args.duration
    tasks = [
        run_candidate(stats, c, start + random.uniform(0, args.arrival), end_at, args.save_every)
        for c in candidates
    ]
    tasks += [run_grader(stats, base, email, end_at) for email in emails[:-1]]
    tasks.append(run_sign_ins(stats, base, emails[-1], end_at))
    if args.kill_at is not None:
        tasks.append(on_kill(stats, start + args.kill_at))
    await asyncio.gather(*tasks)
    for c in candidates:
        await c.client.aclose()
    return stats, candidates, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    """Run the rush; exit 1 on any server error, failed request or lost save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--graders", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arrival", type=float, default=2.0, help="seconds over which all arrive")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of autosaving")
    parser.add_argument("--save-every", type=float, default=5.0)
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    parser.add_argument(
        "--kill-at",
        type=float,
        default=None,
        help="SIGKILL the server this many seconds in, then restart it",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--grader-cache",
        type=Path,
        default=None,
        help="keep the trained grader here between runs (its file is named by what it was "
        "trained from, so a stale one is never used)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="write every request as CSV: endpoint, sent at (s), latency (ms), status",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="do not train the grader first: the server trains it while the rush runs",
    )
    args = parser.parse_args(argv)
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as tmp:
        data_dir = Path(tmp)
        url = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        if url.startswith("postgresql"):
            empty_postgresql(url)
        port = _free_port()
        env = _env(url, data_dir, port)
        log = data_dir / "server.log"
        print(
            f"database: {url.split('@')[-1]}; workers: {args.workers}; candidates: "
            f"{args.candidates} arriving within {args.arrival:g} s; graders: {args.graders}; "
            f"autosave every {args.save_every:g} s for {args.duration:g} s"
        )
        trained = data_dir / "cache" / "grading"
        if args.grader_cache and args.grader_cache.is_dir() and not args.cold:
            shutil.copytree(args.grader_cache, trained, dirs_exist_ok=True)
        tokens, emails = prepare(env, args.candidates, args.graders, train=not args.cold)
        if args.grader_cache and trained.is_dir():
            shutil.copytree(trained, args.grader_cache, dirs_exist_ok=True)
        server = {"process": start_server(env, port, args.workers, log)}

        async def kill_then_restart(stats: Stats, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            began = time.monotonic()
            stats.fault_window = (began, began + 3600)
            kill_server(server["process"])
            print(f"killed the server (SIGKILL) at {at - began + args.kill_at:.1f} s")
            server["process"] = await asyncio.to_thread(start_server, env, port, args.workers, log)
            stats.fault_window = (began, time.monotonic() + 1)
            print(f"restarted after {time.monotonic() - began:.1f} s")

        cpu_before = group_cpu_seconds(server["process"].pid)
        clients_before = time.process_time()
        try:
            stats, candidates, elapsed = asyncio.run(
                rush(args, f"http://127.0.0.1:{port}", tokens, emails, kill_then_restart)
            )
            cpu_after = group_cpu_seconds(server["process"].pid)
            clients_cpu = time.process_time() - clients_before
        finally:
            stop_server(server["process"])
        log_text = log.read_text(errors="replace")
        leaked = [t for t in tokens if t in log_text]
        report(stats, elapsed)
        requests = sum(stats.statuses.values())
        if cpu_before is not None and cpu_after is not None and args.kill_at is None:
            used = cpu_after - cpu_before
            print(
                f"server CPU during the rush: {used:.1f} s "
                f"({1000 * used / max(1, requests):.1f} ms per request); "
                f"the benchmark's own clients: {clients_cpu:.1f} s"
            )
        if args.trace:
            with args.trace.open("w") as out:
                out.write("endpoint,sent_s,latency_ms,status\n")
                for name, sent, latency, status in sorted(stats.trace, key=lambda r: r[1]):
                    out.write(f"{name},{sent:.3f},{1000 * latency:.1f},{status}\n")
        problems = verify(env, candidates)
        acked = sum(1 for c in candidates if c.acked)
        submitted = sum(1 for c in candidates if c.receipt_digest)
        print(
            f"verified: {acked} candidates' last acknowledged saves, {submitted} submissions; "
            f"lost or changed: {len(problems)}"
        )
        for problem in problems[:20]:
            print(f"  {problem}")
        for failure in stats.failures[:20]:
            print(f"  failed: {failure}")
        if leaked:
            print(f"  {len(leaked)} invite tokens appear in the server log")
        server_errors = sum(n for (_, s), n in stats.statuses.items() if s >= 500)
        print(
            f"errors: {len(stats.failures)} failed requests, 5xx outside a fault: "
            f"{server_errors - sum(stats.in_fault_window.values()) if server_errors else 0}"
        )
        ok = not problems and not stats.failures and not leaked and submitted == len(tokens)
        print("RESULT: " + ("ok" if ok else "FAILED"))
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
