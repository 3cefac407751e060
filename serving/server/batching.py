"""Request batching: concurrent requests share one model call.

Requests queue up while the model is busy; the next call takes everything queued (up
to max_rows) and each request gets its own rows back, so under load the per-call cost
of the model (graph dispatch, the transform) is paid once per batch instead of once per
request. A lone request never waits for a batch to fill. Under load (the previous call
took several requests) a call waits up to max_wait for as many requests as the previous
one took, like TF Serving's batch_timeout_micros: at concurrency 8 calls otherwise
alternate between 1 and 7 requests, and waiting made every call take 8, with p99
latency 7.5-8 ms instead of 10-11 on 2 cores. Model calls run on one worker thread,
off the event loop.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from serving.server.repository import LoadedVersion

BATCH_TIMEOUT = 0.002  # seconds; `sluice serve --batch-timeout-ms`


class Batcher:
    def __init__(self, max_rows: int = 512, max_wait: float = BATCH_TIMEOUT, on_batch=lambda rows: None):
        self.max_rows = max_rows
        self.max_wait = max_wait  # seconds
        self.on_batch = on_batch  # called with the rows of every model call (metrics)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self._executor.shutdown(wait=False)

    async def predict(self, loaded: LoadedVersion, columns: dict[str, list], rows: int) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((loaded, columns, rows, future))
        self._arrived.set()
        return await future

    async def _next_batch(self, previous: int) -> list:
        """What the next model call takes: the first request, everything queued behind
        it, and, while fewer than `previous` requests, those arriving within max_wait."""
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        rows = batch[0][2]
        deadline = loop.time() + self.max_wait
        while rows < self.max_rows:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                rows += batch[-1][2]
                continue
            remaining = deadline - loop.time()
            if len(batch) >= previous or remaining <= 0:
                break
            self._arrived.clear()
            try:  # an Event, not the queue: a timeout racing an arrival loses nothing
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        previous = 1  # requests in the previous model call
        while True:
            batch = await self._next_batch(previous)
            previous = len(batch)
            for loaded, group in _by_model(batch).items():
                self.on_batch(sum(item[2] for item in group))
                try:
                    results = await loop.run_in_executor(self._executor, _predict, loaded, group)
                except Exception as err:  # answer every waiting request, keep serving
                    for *_, future in group:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (*_, future), result in zip(group, results):
                    if not future.done():
                        future.set_result(result)


def _by_model(batch: list) -> dict[LoadedVersion, list]:
    groups: dict[LoadedVersion, list] = {}
    for item in batch:
        groups.setdefault(item[0], []).append(item)
    return groups


def _predict(loaded: LoadedVersion, group: list) -> list[np.ndarray]:
    """One model call for every request in the group, split back per request."""
    if len(group) == 1:
        _, columns, _, _ = group[0]
        return [loaded.model.predict(columns)]
    merged = {name: [v for _, columns, _, _ in group for v in columns[name]]
              for name in group[0][1]}
    probs = loaded.model.predict(merged)
    bounds = np.cumsum([rows for _, _, rows, _ in group])[:-1]
    return np.split(probs, bounds)
