"""The step log's hook for a step that executes (pipelines.run.step_log): what starts
infra validation's server ahead. TFX's own log lines are guarded in
test_library_guards.py; this is what the handler does when the hook fails."""
import logging

import pytest

from pipelines.run.step_log import StepLogHandler

pytestmark = pytest.mark.unit


def test_a_failing_execute_hook_is_logged_and_never_breaks_the_run(caplog):
    """Starting the server ahead is an optimisation: if it fails, the step TFX is
    launching must still run (an exception in a logging handler would reach TFX)."""
    def hook(node):
        raise OSError("no more processes")

    handler = StepLogHandler(lambda node: "", on_execute=hook)
    handler.current = "train_keras"
    record = logging.LogRecord("absl", logging.INFO, __file__, 1, "Going to run a new execution %d", (7,), None)
    with caplog.at_level(logging.WARNING, logger="sluice"):
        handler.emit(record)  # must not raise
    assert any("no more processes" in r.getMessage() for r in caplog.records)
