"""What a crash left behind: queued messages nobody sent, leases nobody renews.

Decisions and the messages they cause are committed together, so after a crash the only
unfinished work is in the outbox. At start-up we drain it at once; afterwards a slow sweep
(`SWEEP_INTERVAL_S`) picks up rows whose lease expired because another replica died. The
normal path never waits for this sweep.
"""

from __future__ import annotations

import asyncio
import logging

from .outbox import OutboxSender

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 15.0


class Recovery:
    def __init__(self, sender: OutboxSender, *, interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.sender = sender
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        started = await self.sender.drain()
        if started:
            log.info("recovery: resumed %d queued message(s)", started)
        return started

    def start(self) -> None:
        self._task = asyncio.create_task(self._periodic(), name="recovery-sweep")

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.sender.kick()  # the sender leases whatever is due, including orphaned rows

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
