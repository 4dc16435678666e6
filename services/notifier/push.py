"""The live-push hub: the WebSocket and Server-Sent Events connections this replica holds."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol

from shared.logging import get_logger
from shared.metrics import DELIVERIES

log = get_logger(__name__)

#: A console that does not take a message within this time is treated as gone.
SEND_TIMEOUT_SECONDS = 5.0
#: Messages an SSE stream may hold unread before it is treated as gone.
STREAM_BACKLOG = 1000


class Connection(Protocol):
    """What the hub needs of a connection (Starlette's `WebSocket` fits)."""

    async def send_text(self, data: str) -> None: ...


class Stream:
    """A Server-Sent Events connection: messages wait in a bounded queue for the response."""

    def __init__(self, backlog: int = STREAM_BACKLOG) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(backlog)

    async def send_text(self, data: str) -> None:
        # A full queue means the client stopped reading: fail, so the hub drops it.
        self.queue.put_nowait(data)


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def message(kind: str, data: Any) -> str:
    """The JSON every connection receives: `{"type": ..., "data": ...}`; times in ISO 8601."""
    return json.dumps({"type": kind, "data": data}, ensure_ascii=False, default=_plain)


class PushHub:
    """Holds each person's open connections; a person may have several consoles open."""

    def __init__(self, send_timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self._connections: defaultdict[str, set[Connection]] = defaultdict(set)
        self._send_timeout = send_timeout

    def add(self, person_id: str, connection: Connection) -> None:
        self._connections[person_id].add(connection)
        log.info("push.connected", person_id=person_id, connections=self.count(person_id))

    def remove(self, person_id: str, connection: Connection) -> None:
        held = self._connections.get(person_id)
        if held is None:
            return
        held.discard(connection)
        if not held:
            del self._connections[person_id]
        log.info("push.disconnected", person_id=person_id, connections=self.count(person_id))

    def count(self, person_id: str) -> int:
        return len(self._connections.get(person_id, ()))

    def connected(self, people: set[str] | list[str]) -> list[str]:
        return [p for p in people if p in self._connections]

    async def send(self, person_id: str, data: str) -> int:
        """Send to every connection of the person; returns how many took it, drops the dead."""
        held = list(self._connections.get(person_id, ()))
        if not held:
            return 0
        results = await asyncio.gather(
            *(asyncio.wait_for(c.send_text(data), self._send_timeout) for c in held),
            return_exceptions=True,
        )
        delivered = 0
        for connection, result in zip(held, results, strict=True):
            if isinstance(result, BaseException):
                log.info("push.dropped", person_id=person_id, error=repr(result))
                self.remove(person_id, connection)
            else:
                delivered += 1
        DELIVERIES.labels("push", "sent").inc(delivered)
        if delivered < len(held):
            DELIVERIES.labels("push", "dropped").inc(len(held) - delivered)
        return delivered

    async def broadcast(self, people: list[str], data: str) -> dict[str, int]:
        """Send one message to many people at once; returns the connections each reached."""
        targets = self.connected(people)
        counts = await asyncio.gather(*(self.send(p, data) for p in targets))
        return dict(zip(targets, counts, strict=True))
