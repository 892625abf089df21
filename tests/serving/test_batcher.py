"""The batcher on its own, with a predict that records its calls."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mlops_desktop.serving.batcher import Batcher


class Recorder:
    """Doubles ``x``; takes ``delay`` seconds a call; fails on a row with x < 0."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, columns, rows, method):
        with self.lock:
            self.calls.append(rows)
        time.sleep(self.delay)
        x = columns["x"]
        if (x < 0).any():
            raise ValueError("negative")
        factor = 3 if method == "predict_proba" else 2
        return (x * factor).tolist()


def run(coroutine):
    return asyncio.run(coroutine)


def one(value):
    return {"x": np.array([float(value)])}


def test_a_lone_request_is_predicted_at_once():
    predict = Recorder()

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            started = time.perf_counter()
            result = await batcher.submit(one(4), 1, "predict")
            return result, time.perf_counter() - started

    result, seconds = run(main())
    assert result == [8.0]
    assert seconds < 0.05
    assert predict.calls == [1]


def test_concurrent_requests_share_calls_and_get_their_own_answers():
    predict = Recorder(delay=0.02)

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool, max_rows=16)
            results = await asyncio.gather(
                *(batcher.submit(one(i), 1, "predict") for i in range(50))
            )
            big = await batcher.submit({"x": np.arange(10_000, dtype=float)}, 10_000, "predict")
            return results, big, batcher.calls

    results, big, calls = run(main())
    assert results == [[2.0 * i] for i in range(50)]
    assert calls == len(predict.calls) < 50
    assert max(predict.calls[:-1]) <= 16
    assert predict.calls[-1] == 10_000  # one call, never split
    assert big == (np.arange(10_000) * 2.0).tolist()


def test_methods_are_not_mixed_in_a_call():
    predict = Recorder(delay=0.01)

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            return await asyncio.gather(
                *(
                    batcher.submit(one(i), 1, "predict_proba" if i % 2 else "predict")
                    for i in range(20)
                )
            )

    results = run(main())
    assert results == [[float(i * (3 if i % 2 else 2))] for i in range(20)]


def test_a_failing_request_fails_alone():
    predict = Recorder(delay=0.01)

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            return await asyncio.gather(
                *(batcher.submit(one(-1 if i == 5 else i), 1, "predict") for i in range(12)),
                return_exceptions=True,
            )

    results = run(main())
    assert isinstance(results[5], ValueError)
    assert [r for i, r in enumerate(results) if i != 5] == [[2.0 * i] for i in range(12) if i != 5]


def test_an_abandoned_request_is_skipped():
    predict = Recorder(delay=0.05)

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            first = asyncio.ensure_future(batcher.submit(one(1), 1, "predict"))
            await asyncio.sleep(0.01)
            gone = asyncio.ensure_future(batcher.submit(one(2), 1, "predict"))
            await asyncio.sleep(0)
            gone.cancel()
            kept = await batcher.submit(one(3), 1, "predict")
            await batcher.drained()
            with pytest.raises(asyncio.CancelledError):
                await gone
            return await first, kept

    assert run(main()) == ([2.0], [6.0])
    assert predict.calls == [1, 1]
