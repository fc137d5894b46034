"""Password hashes (argon2id), computed where they cannot slow down anyone else's request.

An argon2 check is slow on purpose: about 0.2 s of CPU and 64 MiB with the parameters below.
Computed the usual way, with one thread per lane (4), each sign-in took both cores of a small
server for a tenth of a second, and every autosave in flight meanwhile waited. So here:

- each worker process computes hashes on one thread of its own, one at a time, so a worker's
  sign-ins use at most one core however many arrive together;
- that thread runs at a lower scheduling priority (nice), so the requests of every worker get
  the CPU first and a sign-in takes what is left over; the hash releases the interpreter lock,
  so the worker's other requests carry on meanwhile;
- the four lanes are computed one after another on that thread. The result is the same
  argon2id hash (the lanes are part of the algorithm, the threads only run them), so hashes
  made here and by `argon2.PasswordHasher` verify with each other.

A sign-in therefore takes longer while the service is busy (it waits for spare CPU), and never
makes the service slower.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError
from argon2.low_level import ffi, lib

# argon2-cffi's defaults (RFC 9106's second recommended option).
_PARAMETERS = PasswordHasher()
SALT_BYTES = _PARAMETERS.salt_len
HASH_BYTES = _PARAMETERS.hash_len
# How much lower than requests a hash runs: weight 110 against 1024 on Linux, so next to busy
# request threads it gets about a tenth of a core, and all of it when they are idle.
NICENESS = 10

_PHC = re.compile(
    r"^\$(?P<type>argon2id|argon2i|argon2d)\$v=(?P<version>\d+)"
    r"\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)$"
)
_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
# Far beyond any parameters this service writes; a stored hash asking for more is refused
# rather than allowed to take the worker's memory or minutes of CPU.
_MAX_MEMORY_KIB = 1024 * 1024
_MAX_TIME_COST = 20
_MAX_LANES = 16


def _lower_priority() -> None:
    # On Linux the nice value is per thread (a new thread starts with its creator's); the
    # value set is absolute, so add to it: a service started niced stays below its requests.
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        own = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, own + NICENESS))


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _hashing_thread() -> ThreadPoolExecutor:
    # Made on first use and again after a fork, whose child has no threads.
    global _executor
    with _executor_lock:
        if _executor is None or getattr(_executor, "_redline_pid", None) != os.getpid():
            _executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="password-hashing", initializer=_lower_priority
            )
            _executor._redline_pid = os.getpid()  # type: ignore[attr-defined]
        return _executor


def _raw(
    password: bytes, salt: bytes, *, time_cost: int, memory_kib: int, lanes: int, kind: Type
) -> bytes:
    """The raw argon2 hash, with every lane computed on the calling thread."""
    out = ffi.new("uint8_t[]", HASH_BYTES)
    pwd = ffi.new("uint8_t[]", password)
    salt_buffer = ffi.new("uint8_t[]", salt)
    context = ffi.new(
        "argon2_context *",
        {
            "version": lib.ARGON2_VERSION_NUMBER,
            "out": out,
            "outlen": HASH_BYTES,
            "pwd": pwd,
            "pwdlen": len(password),
            "salt": salt_buffer,
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": time_cost,
            "m_cost": memory_kib,
            "lanes": lanes,
            "threads": 1,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    status = lib.argon2_ctx(context, kind.value)
    if status != lib.ARGON2_OK:
        raise InvalidHashError(ffi.string(lib.argon2_error_message(status)).decode())
    return bytes(ffi.buffer(out, HASH_BYTES))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _make(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    p = _PARAMETERS
    digest = _raw(
        password.encode(),
        salt,
        time_cost=p.time_cost,
        memory_kib=p.memory_cost,
        lanes=p.parallelism,
        kind=Type.ID,
    )
    return (
        f"$argon2id$v={lib.ARGON2_VERSION_NUMBER}$m={p.memory_cost},t={p.time_cost},"
        f"p={p.parallelism}${_b64(salt)}${_b64(digest)}"
    )


def _check(stored: str, password: str) -> bool:
    match = _PHC.match(stored)
    if match is None or int(match["version"]) != lib.ARGON2_VERSION_NUMBER:
        return False
    memory, time_cost, lanes = int(match["m"]), int(match["t"]), int(match["p"])
    if memory > _MAX_MEMORY_KIB or time_cost > _MAX_TIME_COST or not 1 <= lanes <= _MAX_LANES:
        return False
    try:
        expected, salt = _unb64(match["hash"]), _unb64(match["salt"])
    except ValueError:  # binascii.Error: a length base64 cannot have
        return False
    if len(expected) != HASH_BYTES:
        return False
    try:
        digest = _raw(
            password.encode(),
            salt,
            time_cost=time_cost,
            memory_kib=memory,
            lanes=lanes,
            kind=_TYPES[match["type"]],
        )
    except InvalidHashError:
        return False  # parameters argon2 itself refuses (a salt too short, say)
    return hmac.compare_digest(digest, expected)


def hash_password(password: str) -> str:
    """A new argon2id hash of `password` (PHC string format), on the hashing thread."""
    return _hashing_thread().submit(_make, password).result()


def verify(stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash; a malformed hash matches nothing."""
    return _hashing_thread().submit(_check, stored, password).result()


async def verify_waiting(stored: str, password: str) -> bool:
    """`verify` for a coroutine: waits for the hashing thread without holding a pool thread."""
    return await asyncio.wrap_future(_hashing_thread().submit(_check, stored, password))


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with other parameters than today's (checked without hashing)."""
    try:
        return _PARAMETERS.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


_dummy: str | None = None


def _random_password() -> str:
    return base64.b64encode(os.urandom(24)).decode()


def dummy_hash() -> str:
    """A hash of a random password, checked when the e-mail is unknown, so that a failed
    sign-in takes as long whether or not the account exists. Made once per process."""
    global _dummy
    if _dummy is None:
        _dummy = hash_password(_random_password())
    return _dummy


async def dummy_hash_waiting() -> str:
    """`dummy_hash` for a coroutine."""
    global _dummy
    if _dummy is None:
        _dummy = await asyncio.wrap_future(_hashing_thread().submit(_make, _random_password()))
    return _dummy
