"""The live-push hub: the WebSocket connections this replica holds, by person id."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any, Protocol

from shared.logging import get_logger

log = get_logger(__name__)

#: A console that does not take a message within this time is treated as gone.
SEND_TIMEOUT_SECONDS = 5.0


class Connection(Protocol):
    """What the hub needs of a WebSocket (Starlette's `WebSocket` fits)."""

    async def send_text(self, data: str) -> None: ...


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

    def is_connected(self, person_id: str) -> bool:
        return self.count(person_id) > 0

    async def send(self, person_id: str, message: dict[str, Any]) -> int:
        """Send to every connection of the person; returns how many took it, drops the dead."""
        held = list(self._connections.get(person_id, ()))
        if not held:
            return 0
        data = json.dumps(message, ensure_ascii=False)
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
        return delivered
