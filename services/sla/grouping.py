"""Group commit for the timer's database work: reads and saves asked for while one is under
way go together in the next, so many deadlines at one second cost a few bulk commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def _retrieved(future: asyncio.Future[Any]) -> None:
    # A caller cut off by its timeout no longer waits: its failure is not an unhandled one.
    if not future.cancelled():
        future.exception()


class Grouped(Generic[K, V]):
    """`await grouped(item)` runs `work` on the item with every other item asked for while the
    previous run was under way (at most `size` at once); alone, an item goes at once.

    The run goes on if the caller is cancelled: a save whose events are out must finish.
    """

    def __init__(
        self,
        work: Callable[[Sequence[K]], Awaitable[Sequence[V]]],
        *,
        size: int = 100,
        name: str = "grouped",
    ) -> None:
        self._work = work
        self._size = size
        self._name = name
        self._queue: list[tuple[K, asyncio.Future[V]]] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: K) -> asyncio.Future[V]:
        """The item's result to come: the work answers for each item of a group, in order."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=self._name)
        return future

    async def __call__(self, item: K) -> V:
        return await asyncio.shield(self.submit(item))

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self._size], self._queue[self._size :]
            try:
                answers = await self._work([item for item, _ in group])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for n, (_, future) in enumerate(group):
                if not future.done():
                    future.set_result(answers[n])

    async def stop(self) -> None:
        """Let the run under way finish (its events are out), then stop."""
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait({task}, timeout=30)
