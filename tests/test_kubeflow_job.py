"""A compiled Kubeflow job records its own lineage. `sluice compile kubeflow` writes the
spec; tests/kfp_launcher.py runs each task as Kubeflow's launcher would (the container's
command and arguments from the spec, the executor input from the upstream tasks'
outputs, on local paths, from a folder that is not the checkout), against a real MLflow
tracking server backed by PostgreSQL. No `sluice run` is around the tasks: the steps
open the parent, record themselves, and the push step registers the version. The
lineage walk then passes from the champion alias, for a Keras and a PyTorch champion,
with the record's shape the same as a local run's and an Airflow DAG run's."""
import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from serving.model_format import push_target
from tests.conftest import run_sluice
from tests.kfp_launcher import Job, TaskFailed, environment
from tests.lineage_walk import SHAPE, walk

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"
REPO = Path(__file__).resolve().parents[1]


def run_job(tmp_path: Path, data: Path, trainer: str, tracking_uri: str) -> tuple[Job, Path]:
    home, spec = tmp_path / f"home-{trainer}", tmp_path / f"{trainer}.json"
    compiled = run_sluice("compile", "kubeflow", "-o", spec, "--home", home, "--data", data,
                          "--trainer", trainer, "--steps", 60, "--tracking-uri", tracking_uri,
                          "--pipeline-root", tmp_path / f"root-{trainer}")
    assert compiled.returncode == 0, compiled.stderr
    job = Job(json.loads(spec.read_text()), tmp_path / f"root-{trainer}")
    scratch = tmp_path / f"cwd-{trainer}"  # the container's working folder: not the checkout
    scratch.mkdir()
    job.run(environment(REPO), cwd=scratch)
    assert not list(scratch.iterdir()) and not (home / "mlflow.db").exists()  # all went to the server
    return job, home


def test_a_compiled_job_records_its_lineage_for_a_keras_and_a_pytorch_champion(
        tmp_path, taxi_sample, shared_mlflow_server):
    client = MlflowClient(shared_mlflow_server)
    for trainer in ("keras", "torch"):
        job, home = run_job(tmp_path, taxi_sample, trainer, shared_mlflow_server)
        assert push_target.versions(home / "serving", MODEL) == [1]
        assert walk(client, MODEL) == SHAPE
        champion = client.get_model_version_by_alias(MODEL, "champion")
        assert champion.tags["sluice.trainer"] == trainer
        assert champion.tags["sluice.serving_path"] == str(home / "serving" / MODEL / "1")
        parent = client.get_run(champion.tags["sluice.run_id"])
        assert parent.data.tags["sluice.orchestrator"] == "kubeflow"
        assert "--runner=FnApiRunner" in parent.data.tags["sluice.beam_args"]  # the runner, named
        assert parent.data.tags["sluice.orchestrator_run_id"] == job.job_uuid  # Kubeflow's job id
        assert parent.data.params[f"candidates.{trainer}.framework"] == trainer
        runs = client.search_runs([parent.info.experiment_id],
                                  f"tags.`sluice.orchestrator_run_id` = '{job.job_uuid}'")
        assert len(runs) == 1  # one parent per job, however many tasks asked for it


def test_a_compiled_job_refuses_bad_data_in_its_first_step_with_sluice_runs_message(
        tmp_path, taxi_sample, shared_mlflow_server):
    """The pre-flight runs inside ExampleGen on a job (no `sluice run` around it): a value
    that is not a number in a numeric column stops the job at its first step with the
    message `sluice run` gives (file, line, column), and the job's parent run is FAILED
    with it."""
    from tests.test_preflight import rows_of, set_cell, write_rows

    rows = rows_of(taxi_sample)
    set_cell(rows, 7, "trip_miles", "about two")
    bad = tmp_path / "data" / "taxi.csv"
    bad.parent.mkdir()
    write_rows(bad, rows)
    local = run_sluice("run", "--home", tmp_path / "local", "--data", bad, "--trainer", "keras")
    message = next(line for line in local.stderr.splitlines() if "must be numeric" in line)
    message = message[message.index(str(bad)):]
    assert local.returncode == 2 and "line 7" in message

    spec = tmp_path / "job.json"
    assert run_sluice("compile", "kubeflow", "-o", spec, "--home", tmp_path / "home", "--data", bad,
                      "--trainer", "keras", "--tracking-uri", shared_mlflow_server).returncode == 0
    job = Job(json.loads(spec.read_text()), tmp_path / "root")
    (tmp_path / "cwd").mkdir()
    with pytest.raises(TaskFailed) as failed:
        job.run(environment(REPO), cwd=tmp_path / "cwd")
    assert failed.value.task == "CsvExampleGen" and message in job.logs["CsvExampleGen"]
    client = MlflowClient(shared_mlflow_server)
    experiment = client.get_experiment_by_name(MODEL)
    parent, = client.search_runs([experiment.experiment_id],
                                 f"tags.`sluice.orchestrator_run_id` = '{job.job_uuid}'")
    assert parent.info.status == "FAILED" and message in parent.data.tags["sluice.error"]
    assert not (tmp_path / "home" / "serving").exists()
