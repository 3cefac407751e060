"""Every version that served is in the registry (pipelines.lineage.push_recovery): a
run killed between the push into the serving dir and the registration leaves a version
that answers traffic; `sluice models` (or the next run, or `sluice serve`) registers it
from its push record, marked as such, with its lineage."""
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from serving.model_format import push_target
from tests.conftest import ROOT, SLUICE, run_sluice, sluice_env

MODEL = "sluice-taxi"


def run_killed_at_push(home, taxi_sample) -> int:
    """`sluice run` killed (SIGKILL) as soon as version 1 appears in the serving dir;
    -> the version. The run's own registration comes seconds later (after the step
    log, the child runs and the logged models), so the kill lands inside the window."""
    version_dir = home / "serving" / MODEL / "1"
    process = subprocess.Popen([str(SLUICE), "run", "--home", str(home), "--data", str(taxi_sample),
                                "--steps", "40", "--trainer", "keras"], cwd=ROOT, env=sluice_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (version_dir / push_target.PUSH_MARKER).is_file():
        assert process.poll() is None, "the run ended before it pushed"
        assert time.monotonic() < deadline, "no push within 10 minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return 1


@pytest.mark.e2e
def test_a_version_pushed_by_a_killed_run_is_registered_from_its_push_record(tmp_path, taxi_sample):
    home = tmp_path / "home"
    version = run_killed_at_push(home, taxi_sample)
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    assert not client.search_model_versions(f"name = '{MODEL}'"), "the kill came after the registration"
    record = push_target.push_record(home / "serving" / MODEL / str(version))
    assert record["mlflow_run_id"], "the push record names the pipeline run's MLflow run"

    listed = run_sluice("models", "--home", home)
    assert listed.returncode == 0, listed.stderr
    assert "not in MLflow" not in listed.stdout
    assert "(champion)" in listed.stdout and "registered as MLflow version 1" in listed.stderr

    mv = client.get_model_version_by_alias(MODEL, "champion")
    assert mv.tags["sluice.serving_path"] == str(home / "serving" / MODEL / str(version))
    assert "registered from its push record by sluice models" in mv.tags["sluice.registered_after_recovery"]
    assert mv.tags["sluice.run_id"] == record["mlflow_run_id"]
    parent = client.get_run(mv.tags["sluice.run_id"])  # the walk: version -> run -> data, schema
    assert mv.tags["sluice.data_sha256"] == parent.data.tags["sluice.data_sha256"] != ""
    assert json.loads(mv.tags["sluice.metrics"])["auc"] > 0
    assert mv.tags["sluice.push_decision"] == record["reason"]

    lineage = run_sluice("lineage", "--home", home)
    assert lineage.returncode == 0, lineage.stderr
    assert parent.data.tags["sluice.data_sha256"][:12] in lineage.stdout
    assert "registered      after recovery: the push of version 1 ended before its registration" in lineage.stdout

    # Nothing left to do: the next run registers nothing twice and pushes on top.
    again = run_sluice("models", "--home", home)
    assert "registered as" not in again.stderr
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == 1


@pytest.mark.component
def test_what_counts_as_unregistered(tmp_path, monkeypatch):
    """By the path a version served at, or by the run that pushed it: a rolled-back
    version keeps its registration, a relative serving dir finds it too, a copy of the
    home finds its versions registered, another home's version of the same number does
    not count, and with nothing pushed the store is not even opened."""
    from pipelines.lineage.push_recovery import unregistered

    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}"
    serving = tmp_path / "serving"
    assert unregistered(serving, MODEL, uri) == [] and not store.exists()

    for name in ("a", "b", "c"):
        model_dir = tmp_path / "trained" / name
        model_dir.mkdir(parents=True)
        push_target.push(model_dir, serving, MODEL, {"model_uri": name, "mlflow_run_id": f"run-{name}"})
    client = MlflowClient(uri)
    client.create_registered_model(MODEL)
    for version, name in ((1, "a"), (2, "b")):
        client.create_model_version(MODEL, source=str(tmp_path / "trained"),
                                    tags={"sluice.serving_path": str(serving / MODEL / str(version)),
                                          "sluice.serving_version": str(version), "sluice.run_id": f"run-{name}"})
    client.create_model_version(MODEL, source=str(tmp_path / "trained"),  # another home's version 3
                                tags={"sluice.serving_path": "/elsewhere/serving/sluice-taxi/3",
                                      "sluice.serving_version": "3", "sluice.run_id": "another run"})
    push_target.roll_back(serving, MODEL, 1, "test", "test")  # 2 and 3 move aside
    assert push_target.rolled_back(serving, MODEL) == [2, 3]
    assert unregistered(serving, MODEL, uri) == [serving / MODEL / push_target.ROLLED_BACK / "3"]
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in unregistered(Path("serving").resolve(), MODEL, uri)] == ["3"]

    copy = tmp_path / "copy" / "serving"  # the home copied: version 3 registered by its run there
    shutil.copytree(serving, copy)
    client.create_model_version(MODEL, source=str(tmp_path / "trained"),
                                tags={"sluice.serving_path": str(serving / MODEL / "3"),
                                      "sluice.serving_version": "3", "sluice.run_id": "run-c"})
    assert unregistered(serving, MODEL, uri) == [] and unregistered(copy, MODEL, uri) == []
