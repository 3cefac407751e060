"""A fresh local tracking store, created on the other core, once.

Creating a SQLite tracking store runs MLflow's schema migrations: ~4 s, after ~3 s of
importing MLflow. On a fresh home a child process does that while the pipeline process
imports TFX and Beam (single-threaded work that leaves the second core idle); the
pipeline waits for it before it opens its MLflow run. Two runs started together on a
fresh home would migrate the same file at once and fail ("table _alembic_tmp_tags
already exists"), so the creator holds an flock on `<store>.lock` while it migrates,
and every run waits for that lock before it opens the store. Remote tracking servers
are left alone.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_CREATE = ("import sys; from pathlib import Path; from mlflow.tracking import MlflowClient\n"
           "from serving.model_format.push_target import file_lock\n"
           "with file_lock(Path(sys.argv[2])):\n"
           "    MlflowClient(sys.argv[1]).search_experiments(max_results=1)")


@dataclass
class StoreCreation:
    lock: Path
    process: subprocess.Popen | None


def create_in_background(tracking_uri: str) -> StoreCreation | None:
    """Starts creating the store if tracking_uri is a SQLite file that does not exist yet."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri[len("sqlite:///"):])
    lock = database.with_name(database.name + ".lock")
    if database.exists():
        return StoreCreation(lock, None)  # another run may still be migrating it
    database.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()  # before the database exists, so a waiter always finds the lock
    return StoreCreation(lock, subprocess.Popen(
        [sys.executable, "-c", _CREATE, tracking_uri, str(lock)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def wait_for(creation: StoreCreation | None) -> None:
    """Until the store is created, by this run or another. If the creation failed,
    MLflow creates the store in this process and reports any error there, so its exit
    status is not checked here."""
    if creation is None:
        return
    if creation.process is not None:
        creation.process.wait()
    if creation.lock.exists():
        from serving.model_format.push_target import file_lock

        with file_lock(creation.lock):
            pass
