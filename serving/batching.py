"""Request batching: concurrent requests share one model call.

Requests queue up while the model is busy; the next call takes everything queued (up
to max_rows) and each request gets its own rows back. Nothing waits for a batch to
fill, so a lone request pays no delay, and under load the per-call cost of the model
(graph dispatch, the transform) is paid once per batch instead of once per request.
Model calls run on one worker thread, off the event loop.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from serving.repository import LoadedVersion


class Batcher:
    def __init__(self, max_rows: int = 512, on_batch=lambda rows: None):
        self.max_rows = max_rows
        self.on_batch = on_batch  # called with the rows of every model call (metrics)
        self._queue: asyncio.Queue = asyncio.Queue()
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
        await self._queue.put((loaded, columns, rows, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            rows = batch[0][2]
            while not self._queue.empty() and rows < self.max_rows:
                batch.append(self._queue.get_nowait())
                rows += batch[-1][2]
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
