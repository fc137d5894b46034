"""What every request passes through: admission, hostile input, write conflicts, crashes.

Admission. A request holds at most one database connection (its session) from its first
query to its end, and needs a thread for each sync dependency and for the route. When more
requests are in flight than a worker has connections, a request holding a connection can wait
for a thread while every thread waits for a connection: the deadlock a deadline rush caused.
So a worker admits at most `Settings.threads` requests at once; the others wait in the event
loop holding nothing. The connection pool has that many connections and the thread pool more
threads than that (see `app.db.pool_size`), so an admitted request never waits for either.

Autosaves have a lane of their own (`Admission`). In a deadline rush hundreds of invite opens,
Starts and page loads arrive together; in one queue, a save that arrives behind them waits
for all of them, and once admitted shares the worker's one interpreter lock with every page
being built. So other requests may hold only some of the slots (`general_slots`), the rest
are kept for saves, and a freed slot goes to a waiting save first. Fewer pages built at once
does not slow the pages down in total: on a few cores they are limited by CPU, not by how
many run together, while a save then waits for a handful of them rather than for all. (Not
much fewer: a thread training or loading the grader in the background competes for the same
interpreter, and it gets the larger share the fewer requests run beside it.)

The interpreter lock also changes hands only every `SWITCH_INTERVAL`. A request crosses
between the event loop and a pool thread several times, and gives up the lock at each
database query; each time it wants it back while a page is computing, it waits up to that
interval. Python's default, 5 ms, adds tens of milliseconds to every save in a busy worker;
1 ms costs the pages a little throughput in exchange.

Hostile input. NUL characters and lone UTF-16 surrogates cannot be stored (PostgreSQL refuses
NUL in text; neither encodes as UTF-8) and numbers past 2^31 overflow an integer column, so
they are refused here with 400 or 422 naming where they are, before any route sees them.

Write conflicts. On SQLite a request that changes state takes the write lock when its
transaction begins (`app.db.write_intent`), waiting its turn instead of failing when it first
writes; a conflict that still happens (a GET that closes an overdue draft, a PostgreSQL
serialization failure or deadlock) re-runs the whole request on a fresh transaction, with the
body replayed, a few times before answering 503 with Retry-After.

Crashes. An unexpected error is logged with its traceback and answered with the 500 page,
here, so the server does not also drop the keep-alive connection (Starlette's outermost
handler re-raises after answering, and uvicorn then closes it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import anyio.to_thread
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import db
from app.errors import error_response
from app.logs import redact
from app.settings import get_settings
from grading import unstorable

logger = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONFLICT_RETRIES = 4
MAX_CHECKED_BODY = 32 * 1024 * 1024
# Thread-pool threads beyond the admitted requests: file responses and the grader's warm-up.
SPARE_THREADS = 8
AUTOSAVE_PATH = "/api/candidate/draft"
# How often a thread computing gives the interpreter lock to another that wants it (s).
SWITCH_INTERVAL = 0.001
# How long background work waits for a moment with no request in flight before going ahead (s).
LULL_PATIENCE = 2.0
_LULL_POLL = 0.02
_CONFLICT_SIGNS = ("database is locked", "could not serialize", "deadlock detected")


class Refused(Exception):
    """Input the service cannot store: status, message, and where each problem is."""

    def __init__(self, status: int, detail: str, problems: list[str]) -> None:
        self.status = status
        self.detail = detail
        self.problems = problems
        super().__init__(detail)


def is_write_conflict(exc: BaseException) -> bool:
    """Whether a database error means another transaction got in the way (worth a retry)."""
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    message = str(exc.orig).lower()
    return any(sign in message for sign in _CONFLICT_SIGNS)


def text_problem(value: str) -> str | None:
    """Why a piece of text cannot be stored, or None."""
    problem = unstorable(value)
    if problem == "nul":
        return "contains a NUL character (\\u0000), which cannot be stored"
    if problem == "surrogate":
        return "contains an unpaired UTF-16 surrogate, which is not valid Unicode"
    return None


def _json_where(path: tuple[str | int, ...]) -> str:
    # Comments are named as people count them, as the candidate API's other errors do.
    if len(path) >= 2 and path[0] == "comments" and isinstance(path[1], int):
        rest = ".".join(str(p) for p in path[2:])
        return f"comment {path[1] + 1}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in path) or "request body"


def _walk(value: Any, path: tuple[str | int, ...]) -> Iterator[str]:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield f"{_json_where(path)}: {problem}"
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > db.MAX_INT:
            yield f"{_json_where(path)}: {value:.3g} is out of range (at most {db.MAX_INT:,})"
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                yield f"{_json_where(path)}: a field name {problem}"
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def check_address(scope: Scope) -> None:
    """Refuse a path or query string carrying text that cannot be stored."""
    problem = text_problem(scope.get("path", ""))
    if problem:
        raise Refused(400, f"The address {problem}.", [f"path: {problem}"])
    query = scope.get("query_string", b"").decode("latin-1")
    problems = []
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        for part, text in (("name", name), ("value", value)):
            problem = text_problem(text)
            if problem:
                problems.append(f"query parameter '{name[:40]}' {part}: {problem}")
    if problems:
        raise Refused(400, "The address is malformed: " + "; ".join(problems), problems)


def check_body(content_type: str, body: bytes) -> None:
    """Refuse a form or JSON body with text or numbers that cannot be stored."""
    problems: list[str] = []
    if content_type.startswith("application/x-www-form-urlencoded"):
        if b"\x00" in body or b"%00" in body.lower():
            for pair in body.split(b"&"):
                name, _, value = pair.partition(b"=")
                raw = unquote_to_bytes(value.replace(b"+", b" "))
                if b"\x00" in raw or b"\x00" in unquote_to_bytes(name):
                    field = unquote_to_bytes(name).decode("utf-8", "replace").replace("\x00", "")
                    problems.append(f"form field '{field[:40]}': {text_problem(chr(0))}")
    elif content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return  # the route reports malformed JSON with its own, more precise, message
        problems = list(_walk(parsed, ()))
    if problems:
        raise Refused(422, "The request is malformed: " + "; ".join(problems), problems)


def general_slots(slots: int) -> int:
    """How many of a worker's `slots` requests other than autosaves may hold at once: all but
    a quarter, which are kept for autosaves (with fewer than 4 slots, saves only go first)."""
    return max(1, slots - slots // 4)


def is_autosave(scope: Scope) -> bool:
    """Whether a request is a candidate's save, which has its own admission lane."""
    return scope["method"] == "PUT" and scope["path"] == AUTOSAVE_PATH


class Admission:
    """At most `slots` requests at once, of which at most `general` are not autosaves.

    Waiting requests hold nothing but their place in line; when a slot frees, a waiting
    autosave gets it before any other request.
    """

    def __init__(self, slots: int, general: int) -> None:
        self.slots = slots
        self.general = general
        self.in_flight = 0
        self.general_in_flight = 0
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    def _fits(self, fast: bool) -> bool:
        return self.in_flight < self.slots and (fast or self.general_in_flight < self.general)

    def _take(self, fast: bool) -> None:
        self.in_flight += 1
        if not fast:
            self.general_in_flight += 1

    async def acquire(self, fast: bool) -> None:
        """Wait for a slot in the autosave (`fast`) or the general lane."""
        if not self._waiting[fast] and self._fits(fast):
            self._take(fast)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[fast].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(fast)  # granted just as the client went away: pass it on
            else:
                self._waiting[fast].remove(waiter)
            raise

    def release(self, fast: bool) -> None:
        """Give back a slot; waiting autosaves first, then others while their share allows."""
        self.in_flight -= 1
        if not fast:
            self.general_in_flight -= 1
        for lane in (True, False):
            queue = self._waiting[lane]
            while queue and self._fits(lane):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(lane)
                    waiter.set_result(None)


class _Slot:
    """The admission slot a request holds, which it may give up for a while (`stepped_aside`)."""

    def __init__(self, admission: Admission, fast: bool) -> None:
        self.admission = admission
        self.fast = fast
        self.held = False

    async def take(self) -> None:
        await self.admission.acquire(self.fast)
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.admission.release(self.fast)


_slot: ContextVar[_Slot | None] = ContextVar("admission_slot", default=None)


@asynccontextmanager
async def stepped_aside() -> AsyncIterator[None]:
    """Let other requests have this request's slot while it waits for something that uses no
    database connection and no pool thread (a password hash on its own thread), then queue
    for a slot again. Outside a request (tests calling a route directly) it does nothing."""
    slot = _slot.get()
    if slot is None or not slot.held:
        yield
        return
    slot.give_back()
    try:
        yield
    finally:
        await slot.take()


class _InFlight:
    """How many requests this worker is serving, for background threads to read."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1

    def done(self) -> None:
        with self._lock:
            self.count -= 1


_in_flight = _InFlight()


def wait_for_a_lull(patience: float = LULL_PATIENCE) -> None:
    """Block a background thread until no request is in flight, or `patience` seconds.

    Work nobody waits for (grading a submitted review) shares the worker's interpreter lock
    with the requests people wait for. At a deadline the submits come with the last round of
    autosaves, and grading each submission the moment it arrived took the lock from those
    saves; deferring it to a quiet moment costs the grade a second or two. The patience
    bounds the wait, so grading still progresses under a load that never pauses.
    """
    give_up = time.monotonic() + patience
    while _in_flight.count and time.monotonic() < give_up:
        time.sleep(_LULL_POLL)


class Guard:
    """ASGI middleware: admission, hostile input, retry on write conflicts, 500s kept local."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._admission: Admission | None = None

    def _slots(self) -> Admission:
        loop = asyncio.get_running_loop()
        if self._admission is None or self._loop is not loop:
            threads = get_settings().threads
            self._loop, self._admission = loop, Admission(threads, general_slots(threads))
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(limiter.total_tokens, threads + SPARE_THREADS)
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        return self._admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request under the rules above."""
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        slot = _Slot(self._slots(), is_autosave(scope))
        await slot.take()
        token = _slot.set(slot)
        _in_flight.add()
        try:
            await self._serve(scope, receive, send)
        finally:
            _in_flight.done()
            _slot.reset(token)
            slot.give_back()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            check_address(scope)
            received, receive = await self._read_checked_body(scope, receive)
        except Refused as exc:
            await self._refuse(scope, send, exc)
            return
        db.write_intent.set(scope["method"] in UNSAFE_METHODS)
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                await self.app(scope, _replaying(received, receive), tracking_send)
                return
            except Exception as exc:
                if started:
                    raise
                if is_write_conflict(exc) and attempt < CONFLICT_RETRIES:
                    logger.info("write conflict on %s %s; retrying", scope["method"], _path(scope))
                    # A request that turned out to write (a GET that closes an overdue draft
                    # or opens an invite) now takes SQLite's write lock up front, so the retry
                    # waits its turn instead of conflicting again.
                    db.write_intent.set(True)
                    await asyncio.sleep(0.05 * 2**attempt * (1 + random.random()))
                    continue
                await self._fail(scope, send, exc)
                return

    async def _read_checked_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[Message], Receive]:
        """Read a form or JSON body (within limits) and check it; return it for replay."""
        headers = dict(scope.get("headers", []))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        declared = headers.get(b"content-length", b"").decode("latin-1")
        checkable = content_type.startswith(
            ("application/x-www-form-urlencoded", "application/json")
        )
        if not checkable or (declared.isdigit() and int(declared) > MAX_CHECKED_BODY):
            return [], receive
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, receive
            size += len(message.get("body", b""))
            if size > MAX_CHECKED_BODY:
                return messages, receive  # the route refuses an oversized body with 413
            if not message.get("more_body", False):
                break
        check_body(content_type, b"".join(m.get("body", b"") for m in messages))
        return messages, receive

    async def _refuse(self, scope: Scope, send: Send, exc: Refused) -> None:
        request = Request(scope)
        title = "Invalid input" if exc.status == 422 else "Bad request"
        response = error_response(
            request, exc.status, title, exc.detail, code="invalid_request", problems=exc.problems
        )
        await response(scope, _no_body, send)

    async def _fail(self, scope: Scope, send: Send, exc: Exception) -> None:
        request = Request(scope)
        if is_write_conflict(exc):
            logger.warning("write conflict persisted on %s %s", scope["method"], _path(scope))
            response = error_response(
                request,
                503,
                "Busy",
                "The server is busy; nothing was lost. Try again in a moment.",
                code="busy",
            )
            response.headers["Retry-After"] = "1"
        else:
            logger.error("unexpected error on %s %s", scope["method"], _path(scope), exc_info=exc)
            response = error_response(
                request,
                500,
                "Something went wrong",
                "The server hit an unexpected error; nothing you saved was lost.",
                code="server_error",
            )
        await response(scope, _no_body, send)


def _path(scope: Scope) -> str:
    return redact(scope.get("path", ""))


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out `messages` again, then whatever is still to come.

    What it then receives is added to `messages`, so a retry can replay the whole body.
    """
    position = 0

    async def replay() -> Message:
        nonlocal position
        if position < len(messages):
            position += 1
            return messages[position - 1]
        message = await receive()
        messages.append(message)
        position += 1
        return message

    return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
