"""A tracking store a team shares: two `sluice run` processes started at the same moment,
from two homes, against one `mlflow server` backed by PostgreSQL. Both finish, both are
recorded whole, and neither sees a lock error. (Two runs at once on one home's SQLite
store: tests/test_gates_e2e.py::test_two_runs_at_once_agree_about_what_is_served.)"""
import subprocess

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import SLUICE, sluice_env

pytestmark = pytest.mark.e2e
STEPS = 13  # child runs of a whole run with both trainers


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
