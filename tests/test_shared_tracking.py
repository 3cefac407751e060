"""A tracking store a team shares: one `mlflow server` backed by PostgreSQL, written by
runs from several homes at the same moment. Both finish, both are recorded whole, and
neither sees a lock error. (Two runs at once on one home's SQLite store:
tests/test_gates_e2e.py::test_two_runs_at_once_agree_about_what_is_served.)"""
import subprocess
import threading
import uuid

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from components.recording import registry, shared_writes
from tests.conftest import SLUICE, sluice_env

STEPS = 13  # child runs of a whole run with both trainers
RUNS_AT_ONCE = 6


def at_once(work, count=RUNS_AT_ONCE) -> list:
    """work(i) in count threads released together -> their results or exceptions."""
    start, results = threading.Barrier(count), [None] * count

    def one(i):
        start.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - the test reports every failure
            results[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.component
def test_runs_that_set_the_champion_at_once_all_succeed(tmp_path, shared_mlflow_server):
    """The race a shared server showed: the first alias of a model set by two runs at
    once (MLflow's merge is SELECT-then-INSERT: UniqueViolation registered_model_alias_pk).
    Each round is a fresh model, so the alias row never exists before the round."""
    client = MlflowClient(shared_mlflow_server)
    mlflow.set_tracking_uri(shared_mlflow_server)
    with mlflow.start_run(experiment_id=client.create_experiment(f"race-{uuid.uuid4().hex}")) as run:
        mlflow.log_text("x", "model/MLmodel")
    for round_ in range(5):
        name = f"race-{round_}-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        versions = [client.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                                run.info.run_id).version for _ in range(RUNS_AT_ONCE)]
        results = at_once(lambda i: registry.set_champion(client, name, versions[i]))
        assert [r for r in results if isinstance(r, Exception)] == []
        assert client.get_registered_model(name).aliases[registry.CHAMPION] in versions


@pytest.mark.component
def test_runs_that_log_the_same_data_at_once_all_record_it(tmp_path, shared_mlflow_server):
    """Two homes, one CSV: each run logs the dataset (name, digest) the other logs too;
    MLflow inserts its row once (UniqueViolation dataset_pk for the loser, found by the
    two-runs test below)."""
    from components.recording import datasets

    client = MlflowClient(shared_mlflow_server)
    experiment = client.create_experiment(f"race-data-{uuid.uuid4().hex}")
    sha256 = uuid.uuid4().hex * 2

    def log(i):
        run_id = client.create_run(experiment).info.run_id
        datasets.log_csv(client, run_id, "http://example.org/taxi.csv", "taxi.csv", sha256, 100, 3)
        return run_id

    results = at_once(log)
    assert [r for r in results if isinstance(r, Exception)] == []
    for run_id in results:
        inputs = client.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("taxi.csv", sha256[:8])]


@pytest.mark.component
def test_runs_that_create_the_experiment_at_once_share_it(tmp_path, shared_mlflow_server):
    client = MlflowClient(shared_mlflow_server)
    name = f"sluice-race-{uuid.uuid4().hex}"
    results = at_once(lambda i: shared_writes.experiment_id(client, name, tmp_path.as_uri()))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len({experiment for experiment, _ in results}) == 1
    assert sum(created for _, created in results) == 1


@pytest.mark.e2e
def test_two_runs_at_once_on_one_server_are_both_recorded(tmp_path, taxi_sample, shared_mlflow_server):
    homes = [tmp_path / "alice", tmp_path / "bob"]
    runs = [subprocess.Popen([str(SLUICE), "run", "--home", str(home), "--data", str(taxi_sample),
                              "--steps", "40", "--tracking-uri", shared_mlflow_server],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=sluice_env())
            for home in homes]
    logs = [r.communicate(timeout=900)[0] for r in runs]
    print(*logs, sep="\n-----\n")
    assert [r.returncode for r in runs] == [0, 0]
    assert not [line for log in logs for line in log.splitlines()
                if "locked" in line.lower() or "Traceback" in line]
    assert not any((home / "mlflow.db").exists() for home in homes)  # all on the server

    client = MlflowClient(shared_mlflow_server)
    experiment = client.get_experiment_by_name("sluice-taxi")
    all_runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    assert sorted(p.data.tags["sluice.pipeline_root"] for p in parents) == sorted(
        str(home.resolve() / "pipeline_root") for home in homes)
    assert all(p.info.status == "FINISHED" for p in parents)
    for parent in parents:
        children = [r for r in all_runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == STEPS and all(c.info.status == "FINISHED" for c in children)
    versions = client.search_model_versions("name='sluice-taxi'")
    assert sorted(mv.tags["sluice.serving_path"] for mv in versions) == sorted(
        str(home.resolve() / "serving" / "sluice-taxi" / "1") for home in homes)
