"""Writes to a tracking store that other runs write to at the same moment.

MLflow's SQL store sets an alias or an experiment tag with SQLAlchemy's `merge`: a
SELECT, then an INSERT when the row is missing. Two runs that do it at once on a shared
PostgreSQL server both SELECT nothing and both INSERT; the second fails with a unique
violation (`registered_model_alias_pk`) and, before this module, failed its whole run.
Creating the experiment races the same way. Repeating the write is the fix: the row
exists by then, so `merge` updates it. Last writer wins, which is what the alias means
(it names what was pushed last; each home's push lock orders pushes into one home).
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from mlflow.exceptions import MlflowException

T = TypeVar("T")
ATTEMPTS = 5


def retried(write: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """write(), repeated after a short pause while it fails on a concurrent write."""
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except MlflowException as error:
            if attempt == attempts or not lost_a_race(error):
                raise
            time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


def lost_a_race(error: MlflowException) -> bool:
    """True for the errors a concurrent insert of the same row gives (PostgreSQL's unique
    violation, SQLite's UNIQUE constraint, or an existing experiment), as the server or
    the local store reports them."""
    text = str(error).lower()
    return any(sign in text for sign in ("unique", "duplicate key", "integrityerror",
                                         "already exists", "resource_already_exists"))


def experiment_id(client, name: str, artifact_location: str) -> tuple[str, bool]:
    """The id of the experiment called name, created if missing -> (id, created here)."""
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id, False
    try:
        return client.create_experiment(name, artifact_location=artifact_location), True
    except MlflowException as error:
        if not lost_a_race(error):
            raise
        return client.get_experiment_by_name(name).experiment_id, False
