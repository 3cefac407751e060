"""Request batching in the server: which requests share a model call. The model here is
a stand-in that records its calls (the batcher only calls predict on it); the batching
of the real server is exercised end to end by test_serving."""
import asyncio

import numpy as np
import pytest

from serving.server.batching import Batcher
from serving.server.repository import LoadedVersion

pytestmark = pytest.mark.unit


class RecordingModel:
    def __init__(self):
        self.calls = []

    def predict(self, columns):
        self.calls.append(list(columns["x"]))
        return np.array([[v, -v] for v in columns["x"]], float)


def run(max_wait, arrivals, timeout=10):
    """arrivals: [(delay before sending, [x values of the requests sent together])];
    raises TimeoutError if the answers take more than `timeout` seconds."""
    model = RecordingModel()
    loaded = LoadedVersion("m", 1, model)

    async def main():
        batcher = Batcher(max_wait=max_wait)
        batcher.start()
        pending = []
        for delay, xs in arrivals:
            await asyncio.sleep(delay)
            pending += [asyncio.ensure_future(batcher.predict(loaded, {"x": [x]}, 1)) for x in xs]
        answers = await asyncio.gather(*pending)
        await batcher.stop()
        return answers

    return model.calls, asyncio.run(asyncio.wait_for(main(), timeout))


def test_each_request_gets_its_own_rows_back():
    calls, answers = run(0, [(0, [1, 2, 3])])
    assert calls == [[1, 2, 3]]
    assert [a.tolist() for a in answers] == [[[1, -1]], [[2, -2]], [[3, -3]]]


def test_after_a_busy_call_the_next_waits_for_as_many_requests():
    # three together, then one, and two more 50 ms later: the second call waits for them
    calls, _ = run(1.0, [(0, [1, 2, 3]), (0.3, [4]), (0.05, [5, 6])])
    assert calls == [[1, 2, 3], [4, 5, 6]]


def test_without_a_timeout_calls_take_what_is_queued():
    calls, _ = run(0, [(0, [1, 2, 3]), (0.3, [4]), (0.05, [5, 6])])
    assert calls == [[1, 2, 3], [4], [5, 6]]


def test_a_lone_request_after_a_lone_request_does_not_wait():
    # the previous call took one request, so a 5 s timeout must not hold the next one
    calls, _ = run(5.0, [(0, [1]), (0.2, [2])], timeout=3)
    assert calls == [[1], [2]]
