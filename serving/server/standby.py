"""A model server on a scratch serving dir, which can be started before it is needed.

Infra validation serves the blessed candidates in a real server process. Starting one
costs seconds: the process imports TensorFlow (and torch for a PyTorch model) before
it loads anything, ~5 of a cold 15k-row run's ~35 s. Under `sluice run` the steps share
one process, so the run starts this server when the first trainer starts to execute
(`start_ahead`, with the frameworks the run trains preloaded), and its imports overlap
the training and the evaluation. Infra validation then `take`s it and pushes the
candidates into its serving dir, which it polls every 0.1 s, and it loads them as it
loads any push. Started ahead or not, it is the same program with the same arguments
and the same models, so the gate's answer does not depend on it. Where a step runs in
a process of its own (Airflow, Kubeflow), `take` starts one then.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from serving.server.process import ServerProcess

POLL_SECONDS = "0.1"  # how soon a pushed candidate is seen


class ScratchServer:
    """`sluice serve` on an empty serving dir of its own, removed with it."""

    def __init__(self, frameworks: tuple[str, ...] = (), ahead: bool = False):
        self.ahead = ahead  # started before the step that uses it
        self.scratch = Path(tempfile.mkdtemp(prefix="sluice-infra-"))
        self.serving_dir = self.scratch / "serving"
        self.serving_dir.mkdir()
        preload = [arg for name in frameworks for arg in ("--preload", name)]
        self.server = ServerProcess(self.serving_dir, "--poll-seconds", POLL_SECONDS, *preload,
                                    log_path=self.scratch / "server.log")

    def alive(self) -> bool:
        return self.server.process.poll() is None

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> ScratchServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_ahead: ScratchServer | None = None


def start_ahead(frameworks: tuple[str, ...] = ()) -> None:
    """Starts the server the next `take` hands over, unless one is already waiting."""
    global _ahead
    if _ahead is None:
        _ahead = ScratchServer(frameworks, ahead=True)


def take(frameworks: tuple[str, ...] = ()) -> ScratchServer:
    """The server started ahead, if it is still running; else a new one. Closing it
    is the caller's (use it as a context manager)."""
    global _ahead
    server, _ahead = _ahead, None
    if server is not None and server.alive():
        return server
    if server is not None:  # it died waiting: its log goes with it, a new one starts clean
        server.close()
    return ScratchServer(frameworks)


def discard() -> None:
    """Stops a server started ahead that nothing took (the run failed or ended first)."""
    global _ahead
    server, _ahead = _ahead, None
    if server is not None:
        server.close()


atexit.register(discard)
