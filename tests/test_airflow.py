"""The pipeline on a real Airflow (its own venv, SQLite metadata DB made by the test),
one task per step, writing its lineage to a real `mlflow server` backed by PostgreSQL on
loopback (tests/postgres.py), as a team would share it."""
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from serving.model_format import push_target
from tests.conftest import ROOT, run_sluice
from tests.lineage_walk import SHAPE, walk

pytestmark = pytest.mark.e2e
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
DAG_ID = "sluice_taxi"
STEPS = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "baseline", "check_anomalies",
         "Transform", "train_keras", "train_torch", "evaluate_keras", "evaluate_torch",
         "infra_validate", "push"}


class Airflow:
    """An Airflow home of its own: SQLite DB, DAGs folder, no example DAGs."""

    def __init__(self, home: Path):
        self.home = home
        self.dags = home / "dags"
        # (and no MLFLOW_TRACKING_URI another test's mlflow.set_tracking_uri exported: each
        # DAG writes where its compiled command says)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))}
        self.env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(self.dags),
                        AIRFLOW__CORE__LOAD_EXAMPLES="False")
        assert AIRFLOW.exists(), "run `make airflow-venv` (make test does) to create .venv-airflow"
        self.run("db", "migrate")

    def run(self, *args, timeout=1500) -> subprocess.CompletedProcess:
        result = subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        print(result.stdout[-3000:], result.stderr[-6000:])
        return result

    def task_states(self) -> dict[str, str]:
        """Task id -> state of the newest DAG run, read from Airflow's own DB."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            run_id = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                                (DAG_ID,)).fetchone()[0]
            rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                              (DAG_ID, run_id)).fetchall()
        return dict(rows)


def compile_dag(airflow: Airflow, home: Path, data: Path, *extra) -> None:
    result = run_sluice("compile", "airflow", "-o", airflow.dags, "--home", home, "--data", data,
                        "--steps", 50, "--retries", 0, *extra)
    assert result.returncode == 0
    assert (airflow.dags / "sluice_dags.py").exists() and (airflow.dags / f"{DAG_ID}.json").exists()


def user_project(folder: Path, data: Path) -> Path:
    """A project folder as a user keeps it: config, schema, features.py (a cross) and
    my_models/ (a copy of the PyTorch example), beside each other."""
    import shutil

    import yaml

    from sluice_config import config as config_module
    from tests.test_candidates import PREPROCESSING

    (folder / "my_models").mkdir(parents=True)
    shutil.copy(config_module.load("taxi").schema, folder / "schema.pbtxt")
    (folder / "my_models" / "__init__.py").write_text("")
    shutil.copy(ROOT / "trainers" / "examples" / "tab_resnet.py", folder / "my_models")
    (folder / "features.py").write_text(PREPROCESSING)
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(data), schema="schema.pbtxt", preprocessing_fn="features.preprocessing_fn",
               candidates={"keras": {"framework": "keras"},
                           "torch": {"framework": "torch", "module": "my_models.tab_resnet"}})
    (folder / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def executions_per_step(metadata: Path) -> dict[str, int]:
    """Step -> executions that did work (COMPLETE or FAILED). Each partial run also
    records CACHED executions for the steps it reuses; those are not re-executions."""
    from pipelines.lineage import mlmd

    counts: dict[str, int] = {}
    store = mlmd.open_store(metadata)
    for step in mlmd.steps_of(store, store.get_executions()):
        if step.state != "CACHED":
            counts[step.node_id] = counts.get(step.node_id, 0) + 1
    return counts


def test_dag_runs_each_step_as_a_task_reruns_a_failed_task_alone_and_reports_to_the_server(
        tmp_path, taxi_sample, shared_mlflow_server):
    """A user's project (a folder outside the checkout: its config, schema, a
    preprocessing_fn that adds a feature cross, and its own PyTorch module as the torch
    candidate) as an Airflow DAG: one DAG run whose push fails (the push target is
    broken), then the failed task cleared and re-run alone: the upstream steps are
    reused from ML Metadata, not recomputed, and both DAG runs are recorded on the
    tracking server."""
    airflow, home = Airflow(tmp_path / "airflow"), tmp_path / "home"
    project = user_project(tmp_path / "project", taxi_sample)
    compile_dag(airflow, home, taxi_sample, "--config", project / "config.yaml",
                "--tracking-uri", shared_mlflow_server)
    home.mkdir(exist_ok=True)
    (home / "serving").write_text("not a folder")  # the push target is broken

    failed = airflow.run("dags", "test", DAG_ID, "2026-11-28")
    assert failed.returncode != 0
    states = airflow.task_states()
    assert set(states) == STEPS and states["push"] == "failed"
    assert {states[s] for s in STEPS - {"push"}} == {"success"}
    before = executions_per_step(home / "metadata.sqlite")

    (home / "serving").unlink()  # fixed; now clear and re-run only the failed task
    rerun = airflow.run("dags", "test", DAG_ID, "2026-11-28", "--mark-success-pattern", "^(?!push$)")
    assert rerun.returncode == 0
    assert airflow.task_states()["push"] == "success"
    after = executions_per_step(home / "metadata.sqlite")
    assert {s: after[s] for s in STEPS - {"push"}} == {s: before[s] for s in STEPS - {"push"}}
    assert before["push"] == 1 and after["push"] == 2  # the failed attempt, then the fixed one
    assert all(before[s] == 1 for s in STEPS - {"push"})
    assert push_target.versions(home / "serving", "sluice-taxi") == [1]
    assert not (home / "mlflow.db").exists()  # lineage went to the server, not a local file

    client = MlflowClient(shared_mlflow_server)
    experiment = client.get_experiment_by_name("sluice-taxi")
    all_runs = client.search_runs([experiment.experiment_id])
    # `airflow dags test` starts a new DAG run each time: one parent run per DAG run
    parents = sorted((r for r in all_runs if "mlflow.parentRunId" not in r.data.tags),
                     key=lambda r: r.info.start_time)
    assert [p.info.status for p in parents] == ["FAILED", "FINISHED"]
    assert all(p.data.tags["sluice.orchestrator_run_id"].startswith("manual__") for p in parents)
    children = {p.info.run_id: {r.info.run_name: r for r in all_runs
                                if r.data.tags.get("mlflow.parentRunId") == p.info.run_id} for p in parents}
    failed_run, fixed_run = (children[p.info.run_id] for p in parents)
    assert set(failed_run) == STEPS and failed_run["push"].info.status == "FAILED"
    assert failed_run["train_torch"].data.params["module"] == "my_models.tab_resnet"  # the user's own
    assert "features.py" in {a.path.split("/")[-1] for a in client.list_artifacts(parents[0].info.run_id, "project")}
    states = {name: run.data.tags["sluice.state"] for name, run in fixed_run.items()}
    assert states == {**{s: "CACHED" for s in STEPS - {"push"}}, "push": "COMPLETE"}  # reused, not rerun
    assert "pushed as version 1" in parents[1].data.tags["sluice.push_decision"]
    assert client.get_model_version_by_alias("sluice-taxi", "champion").version in ("1", 1)
    assert walk(client, "sluice-taxi") == SHAPE  # the same record as a local run's, a Kubeflow job's
    assert parents[1].data.tags["sluice.orchestrator"] == "airflow"


def test_a_scheduled_dag_trains_a_new_span_and_ends_in_seconds_when_nothing_new_arrived(tmp_path):
    """Data in spans, compiled with a schedule: the first DAG run finds span 1 new and
    trains up to it (the span handed to every task); two more DAG runs with no new span
    skip every step, record nothing in MLflow and ML Metadata, and push nothing."""
    import yaml

    from sluice_config import config as config_module
    from tests.conftest import TAXI_CSV, head_csv

    airflow, home = Airflow(tmp_path / "airflow"), tmp_path / "home"
    span = tmp_path / "project" / "trips" / "day-1" / "trips.csv"
    span.parent.mkdir(parents=True)
    head_csv(TAXI_CSV, span, 600)
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data="trips/day-{SPAN}/trips.csv", schema=str(config_module.load("taxi").schema))
    config = tmp_path / "project" / "config.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run_sluice("compile", "airflow", "-o", airflow.dags, "--config", config, "--home", home,
                        "--trainer", "keras", "--steps", 30, "--retries", 0, "--schedule", "@daily")
    assert result.returncode == 0
    spec = (airflow.dags / f"{DAG_ID}.json").read_text()
    assert '"schedule": "@daily"' in spec and "new_span_command" in spec
    steps = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "baseline",
             "check_anomalies", "Transform", "train_keras", "evaluate_keras", "infra_validate", "push"}

    trained = airflow.run("dags", "test", DAG_ID, "2026-12-01")
    assert trained.returncode == 0
    assert airflow.task_states() == {"new_span": "success", **{s: "success" for s in steps}}
    assert push_target.versions(home / "serving", "sluice-taxi") == [1]
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    runs = lambda: client.search_runs([client.get_experiment_by_name("sluice-taxi").experiment_id])  # noqa: E731
    recorded, executed = len(runs()), executions_per_step(home / "metadata.sqlite")
    assert client.get_model_version("sluice-taxi", "1").tags["sluice.span_names"] == "span 1"

    for day in ("2026-12-02", "2026-12-03"):  # nothing new arrived
        idle = airflow.run("dags", "test", DAG_ID, day)
        assert idle.returncode == 0
        assert airflow.task_states() == {"new_span": "skipped", **{s: "skipped" for s in steps}}
    assert push_target.versions(home / "serving", "sluice-taxi") == [1]
    assert len(runs()) == recorded and executions_per_step(home / "metadata.sqlite") == executed

    # A span no candidate passes: the push task fails (--strict, exit 5), so the DAG run
    # is marked failed, and the span stays new for the next scheduled run.
    import csv

    raw["gate"] = {"primary_metric": "auc", "thresholds": {"auc": 0.999}}
    raw["drift"] = {"accept": True}  # the file's next 600 rows are another part of the city
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    with open(TAXI_CSV, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    second = span.parent.parent / "day-2" / "trips.csv"
    second.parent.mkdir()
    with open(second, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows[600:1200]])
    airflow.run("dags", "test", DAG_ID, "2026-12-04")
    states = airflow.task_states()
    assert states["evaluate_keras"] == "success" and states["push"] == "failed", states
    assert push_target.versions(home / "serving", "sluice-taxi") == [1]
    offered = run_sluice("spans", "--new", "--config", config, "--home", home)
    assert offered.returncode == 0 and offered.stdout.strip() == "2", offered.stderr
