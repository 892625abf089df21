"""Concurrent requests share predict calls: an asyncio batcher in front of one worker thread.

When nothing is predicting, a request is predicted at once (a lone client waits for nothing
but its own predict). While a predict runs, requests that arrive queue up; when it ends,
those queued (up to ``max_rows`` rows, and asking for the same method) are predicted together
in one call and the results split back. The wait is bounded by the predict in progress. A
request larger than ``max_rows`` is still one call of its own, never split.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("mlops_desktop.serving.batcher")

DEFAULT_MAX_ROWS = 1024


@dataclass
class _Item:
    columns: dict[str, np.ndarray]
    rows: int
    method: str
    future: asyncio.Future


class Batcher:
    """``await batcher.submit(columns, rows, method)`` -> that request's predictions."""

    def __init__(
        self,
        predict: Callable[[dict[str, np.ndarray], int, str], list],
        executor: Executor,
        max_rows: int = DEFAULT_MAX_ROWS,
    ):
        self._predict = predict
        self._executor = executor
        self.max_rows = max_rows
        self._pending: deque[_Item] = deque()
        self._draining: asyncio.Task | None = None
        self.calls = 0  # predict calls made

    @property
    def busy(self) -> bool:
        return self._draining is not None

    async def submit(self, columns: dict[str, np.ndarray], rows: int, method: str) -> list:
        loop = asyncio.get_running_loop()
        item = _Item(columns, rows, method, loop.create_future())
        self._pending.append(item)
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        return await item.future

    async def drained(self) -> None:
        """Wait until every queued request has been answered."""
        while self._draining is not None:
            await asyncio.shield(self._draining)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                if batch:
                    await self._run(batch)
        finally:
            self._draining = None

    def _take(self) -> list[_Item]:
        """The next batch: the oldest live request, and those after it with the same method
        while the rows fit under the cap."""
        while self._pending and self._pending[0].future.done():
            self._pending.popleft()  # its client left or timed out
        if not self._pending:
            return []
        first = self._pending.popleft()
        batch, rows, kept = [first], first.rows, deque()
        while self._pending:
            item = self._pending.popleft()
            if item.future.done():
                continue
            if item.method == first.method and rows + item.rows <= self.max_rows:
                batch.append(item)
                rows += item.rows
            else:
                kept.append(item)
        self._pending = kept
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        if len(batch) == 1:
            columns, rows = batch[0].columns, batch[0].rows
        else:
            rows = sum(item.rows for item in batch)
            columns = {
                name: np.concatenate([item.columns[name] for item in batch])
                for name in batch[0].columns
            }
        self.calls += 1
        try:
            result = await loop.run_in_executor(
                self._executor, self._predict, columns, rows, batch[0].method
            )
            if len(result) != rows:
                raise RuntimeError(f"the model gave {len(result)} predictions for {rows} rows")
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exception=exc)
                return
            # One request's rows may be what failed: answer each on its own.
            log.info(
                "a batch of %d requests failed (%s); predicting them one by one", len(batch), exc
            )
            for item in batch:
                if not item.future.done():
                    await self._run([item])
            return
        start = 0
        for item in batch:
            _settle(item, result=result[start : start + item.rows])
            start += item.rows


def _settle(item: _Item, result=None, exception: BaseException | None = None) -> None:
    if item.future.done():
        return
    if exception is not None:
        item.future.set_exception(exception)
    else:
        item.future.set_result(result)
