"""Minimal Server-Sent Events parser for the provider's streaming responses."""

from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator


@dataclass
class SSEEvent:
    event: str = "message"
    data: str = ""


async def iter_sse_events(lines: AsyncIterable[str]) -> AsyncIterator[SSEEvent]:
    """Group raw lines into events following the WHATWG event-stream format."""
    event_type = "message"
    data_lines: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data_lines:
                yield SSEEvent(event_type, "\n".join(data_lines))
            event_type, data_lines = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data_lines.append(value)
        elif name == "event":
            event_type = value
    if data_lines:
        yield SSEEvent(event_type, "\n".join(data_lines))
