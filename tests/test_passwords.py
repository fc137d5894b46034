"""Password hashes: standard argon2id, computed one at a time on a low-priority thread."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher

from app import passwords

# Cheap parameters for the interoperability checks; the service's own are checked once.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=4)


def test_a_new_hash_is_argon2id_with_the_standard_parameters_and_verifies_with_argon2() -> None:
    stored = passwords.hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    PasswordHasher().verify(stored, "correct horse battery staple")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_hashes_made_by_argon2_verify_here(lanes: int) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=lanes)
    stored = hasher.hash("a password of some length")
    assert passwords.verify(stored, "a password of some length")
    assert not passwords.verify(stored, "a password of some length!")
    assert not passwords.verify(stored, "")


def test_a_hash_with_other_parameters_needs_a_rehash() -> None:
    assert passwords.needs_rehash(FAST.hash("anything at all"))
    assert passwords.needs_rehash("not a hash")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h: h[:-2],  # a truncated digest
        lambda h: h.replace("$argon2id$", "$argon2x$"),
        lambda h: h.replace("v=19", "v=16"),
        lambda h: h.replace("m=1024", "m=99999999"),  # would take the worker's memory
        lambda h: h.replace("t=1", "t=1000"),  # would take minutes
        lambda h: h.replace("p=4", "p=0"),
        lambda h: "",
        lambda h: "$argon2id$",
    ],
)
def test_a_malformed_or_hostile_hash_matches_nothing(mangle: Callable[[str], str]) -> None:
    stored = FAST.hash("the password")
    assert not passwords.verify(mangle(stored), "the password")


def test_an_unknown_account_is_checked_against_a_real_hash() -> None:
    dummy = passwords.dummy_hash()
    assert dummy.startswith("$argon2id$") and dummy == passwords.dummy_hash()
    assert not passwords.verify(dummy, "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_hashes_run_on_one_thread_below_request_priority() -> None:
    seen: set[int] = set()
    niceness: set[int] = set()
    running, most = 0, 0
    lock = threading.Lock()

    def probe() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        seen.add(threading.get_native_id())
        niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        time.sleep(0.02)
        with lock:
            running -= 1

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    # Eight request threads each needing a hash at once: they take turns on one thread.
    with ThreadPoolExecutor(8) as requests:
        for future in [
            requests.submit(lambda: passwords._hashing_thread().submit(probe).result())
            for _ in range(8)
        ]:
            future.result()
    assert len(seen) == 1 and most == 1
    assert niceness == {min(19, own + passwords.NICENESS)}
    # The caller's own priority is untouched.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
