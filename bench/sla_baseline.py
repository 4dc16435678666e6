"""The bare asyncio baseline of `make bench-sla`: every stored `next_at` as one `loop.call_at`.

`python -m bench.sla_baseline MONGO_URL DATABASE BOOTSTRAP TOPIC` reads every armed ticket's
`next_at` from the SLA service's timer index (the data the service reads), schedules a
callback at each instant, and when one runs publishes
`{"event_type": "sla.breached", "ticket_id", "due_at"}` to TOPIC. It prints one JSON line
before reading and one after, each with its resident memory, then runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def main(mongo_url: str, database: str, bootstrap: str, topic: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, tz_aware=True)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    await client.admin.command("ping")
    sending: set[asyncio.Task[object]] = set()

    def fire(ticket_id: str, due_at: datetime) -> None:
        body = {"event_type": "sla.breached", "ticket_id": ticket_id, "due_at": due_at.isoformat()}
        task = asyncio.create_task(producer.send(topic, json.dumps(body).encode()))
        sending.add(task)
        task.add_done_callback(sending.discard)

    print(json.dumps({"event": "baseline.reading", "rss_mb": rss_mb(os.getpid())}), flush=True)
    start = time.perf_counter()
    # Loop time and wall time differ by a constant: one subtraction maps one onto the other.
    offset = loop.time() - time.time()
    count = 0
    # The same timer index the service reads on assignment, so both read the same data.
    async for doc in client[database]["timers"].find({}, batch_size=64):
        entries = doc.get("entries")
        assert isinstance(entries, dict)
        for ticket_id, (epoch_ms, _version) in entries.items():
            due_at = datetime.fromtimestamp(epoch_ms / 1000, UTC)
            loop.call_at(due_at.timestamp() + offset, fire, ticket_id, due_at)
            count += 1
    seconds = time.perf_counter() - start
    line = {"event": "baseline.loaded", "loaded": count, "seconds": seconds}
    print(json.dumps({**line, "rss_mb": rss_mb(os.getpid())}), flush=True)
    await stop.wait()
    await producer.stop()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
