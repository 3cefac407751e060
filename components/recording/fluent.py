"""MLflow's fluent API (what `mlflow.pyfunc.log_model` and `mlflow.register_model` use)
reads a process-wide tracking URI; MLflow offers no client call that logs a model. Where
sluice must use it, the store it means is set for that block only and what was there
before is put back, so a library user's store, or another home's in the same process, is
left as it was. MLflow mirrors the process-wide URIs in MLFLOW_TRACKING_URI and
MLFLOW_REGISTRY_URI (for subprocesses), so those are what is saved and restored."""
from __future__ import annotations

import contextlib
import os

import mlflow

TRACKING, REGISTRY = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"


@contextlib.contextmanager
def store(tracking_uri: str):
    """The fluent API writes to tracking_uri (its registry too) inside the block."""
    had_tracking, had_registry = os.environ.get(TRACKING), os.environ.get(REGISTRY)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(had_tracking)  # None: none set, the variable removed
        mlflow.set_registry_uri(had_registry)
        if had_registry is None:
            os.environ.pop(REGISTRY, None)
