"""The bounded request queue of one model version, and how batches are drawn from it.

Each worker's dispatcher calls ``next_batch``: it waits for a first request,
then keeps collecting until ``batch_size`` requests or ``max_batch_delay``
have passed, whichever comes first. A full queue refuses new requests (the
client gets 503 with ``Retry-After``); requests handed back after a worker
crash go to the front and are never refused, because they were accepted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from openmaker.serving.errors import QueueFull
from openmaker.serving.protocol import InferenceRequest, InferenceResponse


@dataclass(slots=True)
class PendingRequest:
    request: InferenceRequest
    future: asyncio.Future
    enqueued_at: float
    attempts: int = 0

    def answer(self, response: InferenceResponse) -> None:
        if not self.future.done():
            self.future.set_result(response)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass
class RequestQueue:
    capacity: int
    _items: deque = field(default_factory=deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def remaining_capacity(self) -> int:
        return max(0, self.capacity - len(self._items))

    def put(self, item: PendingRequest) -> None:
        if len(self._items) >= self.capacity:
            raise QueueFull(f"the request queue is full ({self.capacity} waiting); retry later", retry_after=1)
        self._items.append(item)
        self._arrived.set()

    def requeue(self, items: list[PendingRequest]) -> None:
        """Hand accepted requests back to the front of the queue."""
        for item in reversed(items):
            self._items.appendleft(item)
        if items:
            self._arrived.set()

    def drain(self) -> list[PendingRequest]:
        items = list(self._items)
        self._items.clear()
        return items

    def _pop_live(self) -> PendingRequest | None:
        while self._items:
            item = self._items.popleft()
            if not item.future.done():  # skip requests whose client already gave up
                return item
        return None

    def take_now(self, batch_size: int) -> list[PendingRequest]:
        """Up to ``batch_size`` requests that are waiting now, without waiting for more."""
        batch = []
        while len(batch) < batch_size:
            item = self._pop_live()
            if item is None:
                break
            batch.append(item)
        return batch

    async def arrived(self) -> None:
        """Return once a request is waiting."""
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()

    async def next_batch(self, batch_size: int, max_delay_s: float) -> list[PendingRequest]:
        batch: list[PendingRequest] = []
        try:
            while not batch:
                item = self._pop_live()
                if item is None:
                    self._arrived.clear()
                    await self._arrived.wait()
                    continue
                batch.append(item)
            if batch_size > 1:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + max_delay_s
                while len(batch) < batch_size:
                    item = self._pop_live()
                    if item is not None:
                        batch.append(item)
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), remaining)
                    except TimeoutError:
                        break
        except asyncio.CancelledError:
            self.requeue(batch)
            raise
        return batch
