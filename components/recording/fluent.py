"""MLflow's fluent API (what `mlflow.pyfunc.log_model` and `mlflow.register_model`
use) reads a process-wide tracking URI. Where sluice must use it, the store it means is
set for that block only and the previous one put back, so a library user's or another
home's store in the same process is left as it was."""
from __future__ import annotations

import contextlib

import mlflow


@contextlib.contextmanager
def store(tracking_uri: str):
    """The fluent API writes to tracking_uri (its registry too) inside the block."""
    had_tracking, had_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(had_tracking)
        mlflow.set_registry_uri(had_registry)
