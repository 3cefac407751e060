"""A Beam job whose SDK worker is lost fails, instead of waiting forever.

Beam's FnApiRunner (the engine of Beam's own job service, scripts/beam_cluster.sh) sends
each instruction to a worker over its control stream and waits on a future for the
answer. When the worker dies (killed, out of memory, its host gone) the stream ends, and
the reading thread stops without a word: every future still pending, and every one
pushed later, waits forever. Measured here: a worker pool SIGKILLed during Transform left
the job RUNNING and `sluice run` waiting, 5 minutes until the test was stopped (Beam
2.74). Flink, by contrast, notices a lost TaskManager by its heartbeats and fails or
restarts the job.

The patch answers those instructions with an error, as a worker answers one that failed:
the runner's wait for the bundle's data checks for exactly that (an answered future with
an error; an aborted one it does not see, and waits on), so the bundle fails, the job
ends FAILED, and the step fails (exit 1, nothing pushed). A stream that ends after every
answer arrived (the normal close) changes nothing. A worker that was started but never
connected (killed at its start) leaves no stream to end: it is lost after
CONNECT_SECONDS.
tests/test_library_guards.py fails loudly if Beam changes the code it wraps.
"""
from __future__ import annotations

CONNECT_SECONDS = 60.0  # a worker that has not connected by then is lost (they take ~3 s)


def fail_jobs_of_lost_workers() -> None:
    import threading

    from apache_beam.portability.api import beam_fn_api_pb2
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    connection = worker_handlers.ControlConnection
    if getattr(connection._read, "fails_on_lost_worker", False):
        return
    read, push, set_input = connection._read, connection.push, connection.set_input
    lock = threading.Lock()

    def connected_event(self) -> threading.Event:
        with lock:
            if not hasattr(self, "sluice_connected"):
                self.sluice_connected = threading.Event()
            return self.sluice_connected

    def lose(self, reason: str) -> None:
        """Every instruction unanswered, and every later one, answered with the error."""
        self.lost_worker = f"the Beam SDK worker was lost ({reason}) before answering"
        for instruction_id, future in list(self._futures_by_id.items()):
            future.set(beam_fn_api_pb2.InstructionResponse(instruction_id=instruction_id,
                                                           error=self.lost_worker))

    def _read(self) -> None:
        reason = "its control stream ended"
        try:
            read(self)
        except Exception as err:  # noqa: BLE001 - the stream broke: say how
            reason = f"its control stream broke: {type(err).__name__}: {err}"
        lose(self, reason)

    def connected(self, input) -> None:  # noqa: A002 - Beam's name
        connected_event(self).set()
        set_input(self, input)

    def push_or_fail(self, req):
        future = push(self, req)
        if future is None:
            return None
        lost = getattr(self, "lost_worker", None)
        if lost is not None:
            future.set(beam_fn_api_pb2.InstructionResponse(instruction_id=req.instruction_id, error=lost))
        elif not getattr(self, "sluice_watched", False):  # the first instruction: the worker must connect
            self.sluice_watched = True
            threading.Thread(target=wait_for_worker, args=(self,), daemon=True,
                             name="sluice_worker_connect").start()
        return future

    def wait_for_worker(self) -> None:
        """A worker killed before it connected never answers, nor ends a stream."""
        if not connected_event(self).wait(CONNECT_SECONDS):
            lose(self, f"it did not connect within {CONNECT_SECONDS:g} s")

    _read.fails_on_lost_worker = True
    connection._read = _read
    connection.set_input = connected
    connection.push = push_or_fail
