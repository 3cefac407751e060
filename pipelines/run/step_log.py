"""One line per step: start, finish with duration and key figure, or 'cached'.

TFX's LocalDagRunner announces each component through absl ("Component %s is running.");
this handler turns those records into the lines a person reads, and everything else
TFX says at INFO level stays out of sight.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from sluice_config import step_ids

log = logging.getLogger("sluice")


DATA_STEPS = (step_ids.EXAMPLE_GEN, step_ids.STATISTICS_GEN, step_ids.TRANSFORM)  # each reads every input row


class StepLogHandler(logging.Handler):
    def __init__(self, describe: Callable[[str], str], rows: int | None = None,
                 on_execute: Callable[[str], None] = lambda node: None):
        super().__init__(logging.INFO)
        self.describe = describe  # node id -> key figure of its latest execution
        self.rows = rows  # input rows, for the data steps' rows/s
        self.on_execute = on_execute  # called with a node id when it executes (not cached)
        self.started: dict[str, float] = {}
        self.cached: set[str] = set()
        self.current = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            log.error("%s", record.getMessage())
            return
        message, args = record.msg, record.args or ()
        if message == "Component %s is running.":
            self.current = args[0]
            self.started[self.current] = time.time()
            log.info("▶ %s", self.current)
        elif message == "A cached execution %d is used.":
            self.cached.add(self.current)
        elif message == "Going to run a new execution %d":
            try:
                self.on_execute(self.current)
            except Exception as err:  # an optimisation must never break the run
                log.warning("(%s: %s)", type(err).__name__, err)
        elif message == "Component %s is finished.":
            node = args[0]
            took = time.time() - self.started.get(node, time.time())
            try:
                figure = self.describe(node)
            except Exception as err:  # a figure must never break the run
                figure = f"(no figure: {err})"
            state = "cached" if node in self.cached else f"{took:5.1f} s"
            if self.rows and node in DATA_STEPS and node not in self.cached and took > 0:
                figure = ", ".join(filter(None, [figure, f"{self.rows / took:,.0f} rows/s"]))
            log.info("✔ %s  %s  %s", node, state, figure)


def install(describe: Callable[[str], str], rows: int | None = None,
            on_execute: Callable[[str], None] = lambda node: None) -> StepLogHandler:
    import absl.logging

    handler = StepLogHandler(describe, rows, on_execute)
    absl.logging.set_verbosity(absl.logging.INFO)
    absl.logging.get_absl_handler().setLevel(logging.ERROR)
    absl_logger = logging.getLogger("absl")
    absl_logger.setLevel(logging.INFO)
    absl_logger.addHandler(handler)
    absl_logger.propagate = False  # TFX's INFO chatter stops here
    return handler
