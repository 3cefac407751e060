"""What a step knows of the pipeline run it belongs to: the MLflow run id of that run,
which the runner hands down in the environment (the local runner sets it for the steps
it runs in its process), so what a step writes (the push record) names the run it was
part of. Not a parameter: it changes on every run and must not reach a step's cache key."""
from __future__ import annotations

import os

MLFLOW_RUN_ENV = "SLUICE_MLFLOW_RUN_ID"


def mlflow_run_id() -> str:
    """The pipeline run's MLflow run id, or "" where no runner handed one down."""
    return os.environ.get(MLFLOW_RUN_ENV, "")


TRACKING_URI_ENV = "SLUICE_TRACKING_URI"


def tracking_uri() -> str:
    """The store of that run, handed down beside its id."""
    return os.environ.get(TRACKING_URI_ENV, "")
