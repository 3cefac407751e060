"""A fresh local tracking store, created on the other core.

Creating a SQLite tracking store runs MLflow's schema migrations: ~4 s, after ~3 s of
importing MLflow. On a fresh home a child process does that while the pipeline process
imports TFX and Beam (single-threaded work that leaves the second core idle); the
pipeline waits for it before it opens its MLflow run. Existing stores and remote
tracking servers are left alone.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_CREATE = ("import sys; from mlflow.tracking import MlflowClient; "
           "MlflowClient(sys.argv[1]).search_experiments(max_results=1)")


def create_in_background(tracking_uri: str) -> subprocess.Popen | None:
    """Starts creating the store if tracking_uri is a SQLite file that does not exist yet."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri[len("sqlite:///"):])
    if database.exists():
        return None
    database.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", _CREATE, tracking_uri],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(creation: subprocess.Popen | None) -> None:
    """Until the background creation ended. If it failed, MLflow creates the store in this
    process and reports any error there, so its exit status is not checked here."""
    if creation is not None:
        creation.wait()
