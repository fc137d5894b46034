"""Admission in a worker: autosaves have slots of their own and go first, so a deadline
rush of invite opens and Starts cannot make a candidate's save wait behind them."""

from __future__ import annotations

import asyncio
import time

from starlette.types import Message, Receive, Scope, Send

from app import guard
from app.guard import Admission, general_slots, is_autosave


def test_a_quarter_of_the_slots_is_kept_for_autosaves() -> None:
    assert general_slots(16) == 12
    assert general_slots(4) == 3
    assert general_slots(1) == 1  # too few to keep any: saves still go first


def test_only_the_autosave_is_in_the_fast_lane() -> None:
    assert is_autosave({"method": "PUT", "path": "/api/candidate/draft"})
    assert not is_autosave({"method": "GET", "path": "/api/candidate/draft"})
    assert not is_autosave({"method": "POST", "path": "/api/candidate/start"})
    assert not is_autosave({"method": "GET", "path": "/i/some-token"})


def test_pages_cannot_take_the_autosave_slots() -> None:
    async def scenario() -> tuple[int, bool]:
        admission = Admission(4, general_slots(4))
        for _ in range(3):
            await admission.acquire(fast=False)
        page = asyncio.create_task(admission.acquire(fast=False))
        await asyncio.sleep(0)
        queued = not page.done()
        await asyncio.wait_for(admission.acquire(fast=True), timeout=1)
        page.cancel()
        return admission.in_flight, queued

    in_flight, page_queued = asyncio.run(scenario())
    assert page_queued
    assert in_flight == 4


def test_a_freed_slot_goes_to_a_waiting_autosave_before_earlier_pages() -> None:
    async def scenario() -> list[str]:
        admission = Admission(2, 2)
        order: list[str] = []
        await admission.acquire(fast=False)
        await admission.acquire(fast=False)

        async def wait(name: str, fast: bool) -> None:
            await admission.acquire(fast)
            order.append(name)

        tasks = [asyncio.create_task(wait(f"page {n}", False)) for n in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(wait("save", True)))
        await asyncio.sleep(0)
        admission.release(fast=False)
        await asyncio.sleep(0)
        admission.release(fast=False)
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return order

    assert asyncio.run(scenario()) == ["save", "page 0"]


def test_a_client_that_leaves_while_waiting_gives_up_its_place() -> None:
    async def scenario() -> tuple[int, int]:
        admission = Admission(1, 1)
        await admission.acquire(fast=False)
        gone = asyncio.create_task(admission.acquire(fast=False))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        admission.release(fast=False)
        await asyncio.wait_for(admission.acquire(fast=False), timeout=1)
        return admission.in_flight, admission.general_in_flight

    assert asyncio.run(scenario()) == (1, 1)


def test_a_request_waiting_aside_lets_another_have_its_slot_and_then_queues_again() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool, int]:
        admission = Admission(1, 1)
        slot = guard._Slot(admission, fast=False)
        await slot.take()
        guard._slot.set(slot)
        other = asyncio.create_task(admission.acquire(fast=False))
        await asyncio.sleep(0)
        blocked_before = not other.done()

        async def other_request_finishes() -> None:
            await other
            await asyncio.sleep(0.01)
            admission.release(fast=False)

        finishing = asyncio.create_task(other_request_finishes())
        async with guard.stepped_aside():
            await asyncio.sleep(0)
            admitted_meanwhile = other.done()
        # Back only once the other request gave the slot up.
        returned_after_it = finishing.done()
        return blocked_before, admitted_meanwhile, returned_after_it, slot.held, admission.in_flight

    assert asyncio.run(scenario()) == (True, True, True, True, 1)


def test_stepping_aside_outside_a_request_does_nothing() -> None:
    async def scenario() -> bool:
        async with guard.stepped_aside():
            return True

    assert asyncio.run(scenario())


def test_background_work_waits_for_a_lull_in_requests_but_not_forever() -> None:
    """A request in flight holds back grading in the background until it ends."""

    async def scenario() -> tuple[float, float, float]:
        release = asyncio.Event()

        async def slow_page(scope: Scope, receive: Receive, send: Send) -> None:
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        scope: Scope = {
            "type": "http",
            "method": "GET",
            "path": "/staff/queue",
            "raw_path": b"/staff/queue",
            "query_string": b"",
            "headers": [],
            "client": ("127.0.0.1", 5000),
        }
        request = asyncio.create_task(guard.Guard(slow_page)(scope, receive, send))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        patient = asyncio.create_task(asyncio.to_thread(guard.wait_for_a_lull, 10.0))
        impatient = asyncio.create_task(asyncio.to_thread(guard.wait_for_a_lull, 0.2))
        await impatient
        gave_up = time.monotonic() - started
        await asyncio.sleep(0.3)
        still_waiting = not patient.done()
        release.set()
        await request
        await patient
        waited = time.monotonic() - started
        assert still_waiting
        return gave_up, waited, time.monotonic() - started

    gave_up, waited, _ = asyncio.run(scenario())
    assert 0.2 <= gave_up < 1.0  # under load that never pauses, the patience bounds the wait
    assert 0.5 <= waited < 2.0  # and it goes ahead as soon as the request is answered
    started = time.monotonic()
    guard.wait_for_a_lull(10.0)
    assert time.monotonic() - started < 0.1  # nothing in flight: no wait at all
