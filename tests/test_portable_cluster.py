"""The data steps and `sluice predict` on a Beam portable cluster, proven equal to the
in-process runner.

The cluster is scripts/beam_cluster.sh's: Beam's job service and a pool of Python SDK
workers (the EXTERNAL environment), started in a folder of their own with a clean
environment, so neither the checkout nor the user's project is on their path: the user's
preprocessing_fn reaches them with the job, as it must reach a worker on another host.
(Flink's job server is not served by the Maven repository these machines reach;
docs/beyond-one-machine.md.)

One user project (its own features.py and PyTorch module), ~2,000 taxi rows:
- A: `sluice run` in-process; B: a first run on the cluster (one framework, the one A's
  champion is not), then a run on A's data whose worker pool is killed during Transform
  (exit 1 naming the step and the job; nothing pushed; the champion and the serving dir
  untouched), then the same run again with the pool back: it finishes, and its
  statistics, anomalies, transformed examples and model-gate metrics equal A's.
- `sluice predict` with a Keras champion and a PyTorch one writes the same file on both
  runners; every step's record names its runner and its Beam jobs.
"""
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from serving.server.process import free_port
from tests.conftest import ROOT, SLUICE, head_csv, run_sluice, sluice_env

pytestmark = pytest.mark.e2e
SCRIPT = ROOT / "scripts" / "beam_cluster.sh"
BEAM_STEPS = ("CsvExampleGen", "StatisticsGen", "Transform")
MODEL = "sluice-taxi"


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.job_port, self.worker_port = free_port(), free_port()
        self.job_endpoint = f"localhost:{self.job_port}"

    def script(self, command: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", str(SCRIPT), command, "--dir", str(self.folder),
                                 "--job-port", str(self.job_port), "--worker-port", str(self.worker_port)],
                                capture_output=True, text=True, timeout=180)
        print(result.stdout, result.stderr)
        return result

    def pid(self, name: str) -> int:
        return int((self.folder / f"{name}.pid").read_text())

    def args(self) -> list[str]:
        return ["--runner", "portable", "--job-endpoint", self.job_endpoint,
                "--worker-pool", f"localhost:{self.worker_port}"]

    def running_job(self, prefix: str) -> str | None:
        import grpc
        from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

        from components.recording.beam_jobs import job_name_of

        with grpc.insecure_channel(self.job_endpoint) as channel:
            jobs = beam_job_api_pb2_grpc.JobServiceStub(channel).GetJobs(
                beam_job_api_pb2.GetJobsRequest(), timeout=10).job_info
        running = beam_job_api_pb2.JobState.RUNNING
        return next((j.job_id for j in jobs if job_name_of(j).startswith(prefix) and j.state == running), None)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("beam-cluster"))
    assert cluster.script("up").returncode == 0
    assert cluster.script("status").returncode == 0
    pids = [cluster.pid("job_service"), cluster.pid("workers")]
    yield cluster
    assert cluster.script("down").returncode == 0
    time.sleep(1)
    assert not any(alive(p) for p in pids)  # down stops exactly what up started
    assert cluster.script("status").returncode == 3


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from tests.test_airflow import user_project

    folder = tmp_path_factory.mktemp("user")
    data = head_csv(ROOT / "data" / "taxi" / "data.csv", folder / "trips.csv", 2000)
    head_csv(data, folder / "first_trips.csv", 1800)  # B's first run: other content, the same kind
    return user_project(folder / "project", data)


def newest(home: Path, step: str, output: str) -> Path:
    return max((home / "pipeline_root" / step / output).iterdir(), key=lambda p: int(p.name))


def parent_and_steps(home: Path, index: int = 0):
    """A run's parent run (newest first) and its step runs by name."""
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(MODEL)
    parents = client.search_runs([experiment.experiment_id], "attributes.run_name LIKE 'taxi-%'",
                                 order_by=["attributes.start_time DESC"])
    parent = parents[index]
    children = client.search_runs([experiment.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return parent, {c.info.run_name: c for c in children}


def champion(home: Path):
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    return client.get_model_version_by_alias(MODEL, "champion")


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def records(folder: Path) -> dict[str, list[bytes]]:
    import tensorflow as tf

    return {split.name: [r.numpy() for f in sorted(split.iterdir())
                         for r in tf.data.TFRecordDataset(str(f), compression_type="GZIP")]
            for split in sorted(folder.iterdir()) if split.is_dir()}


@pytest.fixture(scope="module")
def runs(cluster, project, tmp_path_factory):
    """A on the in-process runner; B on the cluster: a first run, a run killed in
    Transform, and that run again (-> homes, the killed run's result, its serving dir
    before and after)."""
    base = tmp_path_factory.mktemp("homes")
    home_a, home_b = base / "a", base / "b"
    config = project / "config.yaml"
    direct = run_sluice("run", "--config", config, "--home", home_a, "--steps", 60)
    assert direct.returncode == 0
    other = "keras" if champion(home_a).tags["sluice.candidate"] == "torch" else "torch"
    first = run_sluice("run", "--config", config, "--home", home_b, "--steps", 60, "--trainer", other,
                       "--data", project.parent / "first_trips.csv", *cluster.args())
    assert first.returncode == 0 and str(champion(home_b).version) == "1"
    serving_before = tree_digest(home_b / "serving")

    killed = subprocess.Popen([str(SLUICE), "run", "--config", str(config), "--home", str(home_b),
                               "--steps", "60", *cluster.args()],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=sluice_env(), cwd=ROOT)
    deadline, job = time.monotonic() + 300, None
    while job is None and time.monotonic() < deadline and killed.poll() is None:
        job = cluster.running_job("sluice-transform-")
        time.sleep(0.2)
    assert job, "Transform's Beam job never ran on the cluster"
    os.killpg(cluster.pid("workers"), signal.SIGKILL)  # the pool and every worker it started
    output, _ = killed.communicate(timeout=300)
    print(output[-6000:])
    serving_after = tree_digest(home_b / "serving")
    version_after = str(champion(home_b).version)

    assert cluster.script("up").returncode == 0  # the job service kept running; a new pool
    again = run_sluice("run", "--config", config, "--home", home_b, "--steps", 60, *cluster.args())
    assert again.returncode == 0
    return {"a": home_a, "b": home_b, "killed": (killed.returncode, output, job), "other": other,
            "serving": (serving_before, serving_after), "version_after_kill": version_after}


def test_a_worker_lost_in_transform_fails_the_run_and_pushes_nothing(runs):
    code, output, job = runs["killed"]
    assert code == 1
    last = [line for line in output.splitlines() if "pipeline failed" in line][-1]
    assert "in step Transform" in last and "job-" in last  # the step and the Beam job named
    assert runs["version_after_kill"] == "1"
    before, after = runs["serving"]
    assert after == before  # the model serving: not a byte changed
    parent, steps = parent_and_steps(runs["b"], index=1)
    assert parent.info.status == "FAILED" and steps["Transform"].info.status == "FAILED"
    assert "push" not in steps


def test_the_cluster_run_equals_the_in_process_run(runs):
    from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

    home_a, home_b = runs["a"], runs["b"]
    for split in ("Split-train", "Split-eval"):
        stats = [statistics_pb2.DatasetFeatureStatisticsList.FromString(
            (newest(h, "StatisticsGen", "statistics") / split / "FeatureStats.pb").read_bytes())
            for h in (home_a, home_b)]
        assert stats[0] == stats[1]
        anomalies = [anomalies_pb2.Anomalies.FromString(
            (newest(h, "ExampleValidator", "anomalies") / split / "SchemaDiff.pb").read_bytes())
            for h in (home_a, home_b)]
        assert anomalies[0] == anomalies[1]
    transformed = [records(newest(h, "Transform", "transformed_examples")) for h in (home_a, home_b)]
    assert set(transformed[0]) == {"Split-eval", "Split-train"}
    assert transformed[0]["Split-train"] and transformed[0] == transformed[1]  # record for record

    (_, steps_a), (_, steps_b) = parent_and_steps(home_a), parent_and_steps(home_b)
    for candidate in ("keras", "torch"):
        metrics = [s[f"evaluate_{candidate}"].data.metrics for s in (steps_a, steps_b)]
        assert metrics[0]["auc"] == pytest.approx(metrics[1]["auc"], abs=1e-6)
        assert metrics[0]["accuracy"] == pytest.approx(metrics[1]["accuracy"], abs=1e-6)


def test_every_data_step_runs_on_the_runner_sluice_named_and_names_its_jobs(runs, cluster):
    parent_a, steps_a = parent_and_steps(runs["a"])
    assert parent_a.data.tags["sluice.beam_args"].startswith("--runner=FnApiRunner")
    assert not any("sluice.beam_job_ids" in s.data.tags for s in steps_a.values())
    parent_b, steps_b = parent_and_steps(runs["b"], index=2)  # the cluster's first run: every step ran
    assert parent_b.data.tags["sluice.beam_args"].split() == [
        "--runner=PortableRunner", f"--job_endpoint={cluster.job_endpoint}", "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{cluster.worker_port}"]
    for step in BEAM_STEPS:
        tags = steps_b[step].data.tags
        assert tags["sluice.beam_job_name"].startswith(f"sluice-{step.lower()}-")
        ids, states = tags["sluice.beam_job_ids"].split(","), tags["sluice.beam_job_states"].split(",")
        assert ids[0] and set(states) == {"DONE"}, tags


@pytest.mark.parametrize("which", ["champion of A", "version 1 of B"])
def test_predict_writes_the_same_file_on_both_runners(runs, cluster, project, tmp_path, which):
    """A's champion and B's version 1 are one Keras and one PyTorch model."""
    home, target = (runs["a"], f"{MODEL}@champion") if which == "champion of A" else (runs["b"], f"{MODEL}/1")
    data = project.parent / "trips.csv"
    outputs = {}
    for runner, args in (("in-process", []), ("cluster", cluster.args())):
        outputs[runner] = tmp_path / f"{runner}.csv"
        result = run_sluice("predict", target, "--home", home, "--data", data, "-o", outputs[runner], *args)
        assert result.returncode == 0
    assert outputs["cluster"].read_bytes() == outputs["in-process"].read_bytes()
    assert len(outputs["cluster"].read_text().splitlines()) == 2001
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    run = client.search_runs([e.experiment_id for e in client.search_experiments()],
                             "tags.`sluice.kind` = 'batch_prediction'",
                             order_by=["attributes.start_time DESC"], max_results=1)[0]
    assert run.data.tags["sluice.beam_job_ids"].startswith("job-")  # the cluster's job, named
    version = client.get_model_version(MODEL, run.data.tags["sluice.model_version"])
    framework = version.tags["sluice.candidate"]  # the candidates are named for their frameworks
    # one Keras and one PyTorch model: B's first run trained the framework A's champion is not
    assert (framework == runs["other"]) == (which == "version 1 of B")
