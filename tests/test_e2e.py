"""End-to-end: the real CLI, real TFX components, a real MLflow store, on 2,000 rows.

The tests share one sluice home and run in order: a first run with both trainers, an
unchanged rerun, a deliberately worse model, and a drifted CSV.
"""
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from serving.model_format import push_target as push
from serving.model_format.model import ServableModel
from sluice_config import config as config_module
from tests.conftest import raw_rows, run_sluice
from tests.lineage_walk import SHAPE, walk

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


@pytest.fixture(scope="module")
def home(first_run):
    return first_run[0]


def client_for(home: Path) -> MlflowClient:
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    return MlflowClient()


def runs(home: Path):
    client = client_for(home)
    experiment = client.get_experiment_by_name("sluice-taxi")
    all_runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    children = {p.info.run_id: [r for r in all_runs if r.data.tags.get("mlflow.parentRunId") == p.info.run_id]
                for p in parents}
    return parents, children


def test_both_trainers_blessed_pushed_and_recorded(home, first_run, taxi_sample):
    result = first_run[1]
    assert result.returncode == 0
    log = result.stderr
    assert "▶ Transform" in log and "✔ push" in log and "INFO:absl" not in log
    assert "Unable to register" not in log and "AtomicFunction" not in log

    assert push.versions(home / "serving", MODEL) == [1]
    served = ServableModel(home / "serving" / MODEL / "1")
    probs = served.predict(raw_rows(taxi_sample, 5, served.feature_names))
    assert probs.shape == (5, 2) and abs(probs.sum(1) - 1).max() < 1e-5

    parents, children = runs(home)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    steps = {c.info.run_name: c for c in children[parent.info.run_id]}
    assert set(steps) >= {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                          "check_anomalies", "Transform", "train_keras", "train_torch",
                          "evaluate_keras", "evaluate_torch", "infra_validate", "push"}
    assert all(c.info.status == "FINISHED" for c in steps.values())
    assert steps["StatisticsGen"].data.metrics["rows_train"] + steps["StatisticsGen"].data.metrics["rows_eval"] == 2000
    # The same gate judged both frameworks on the same eval rows.
    keras, torch = steps["evaluate_keras"].data.metrics, steps["evaluate_torch"].data.metrics
    assert keras["example_count"] == torch["example_count"] > 0
    for m in ("auc", "accuracy", "loss"):
        assert f"keras.{m}" in parent.data.metrics and f"torch.{m}" in parent.data.metrics
    assert len(steps["train_torch"].data.metrics) >= 3
    assert parent.data.tags["sluice.data_sha256"] and parent.data.tags["sluice.git_commit"]
    assert parent.data.tags["sluice.mlmd.Transform"].isdigit()
    datasets = client_for(home).get_run(parent.info.run_id).inputs.dataset_inputs
    assert datasets and datasets[0].dataset.digest

    client = client_for(home)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.tags["sluice.trainer"] in ("keras", "torch")
    assert "auc" in champion.tags["sluice.blessing"]
    # the server was started when the first trainer executed (serving.server.standby)
    assert "served by the model server (started ahead)" in champion.tags["sluice.infra_validation"]
    assert champion.tags["sluice.serving_path"].endswith(f"{MODEL}/1")
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    frame = pd.DataFrame(raw_rows(taxi_sample, 5, served.feature_names))
    assert abs(pyfunc.predict(frame).to_numpy() - probs).max() < 1e-5

    lineage = run_sluice("lineage", "--home", home)
    assert lineage.returncode == 0 and "blessed because" in lineage.stdout
    assert champion.tags["sluice.git_commit"] in lineage.stdout
    assert walk(client, MODEL) == SHAPE  # the same record as a Kubeflow job's, an Airflow DAG run's
    assert parent.data.tags["sluice.orchestrator"] == "local"


def test_run_report_is_logged_and_can_be_rebuilt(home, tmp_path):
    parents, _ = runs(home)
    run_id = parents[0].info.run_id
    client = client_for(home)
    assert "report.html" in [a.path for a in client.list_artifacts(run_id)]
    logged = Path(client.download_artifacts(run_id, "report.html", str(tmp_path))).read_text()
    assert logged.count("data:image/png;base64,") >= 4  # loss, ROC + calibration, slices
    for words in ("The candidates, side by side", "keras: BLESSED, judged against no champion",
                  "Drift against (no reference yet)", "keras: per class (macro-F1", "data_sha256", "Push</b>: keras"
                  if "keras" in parents[0].data.tags["sluice.push_decision"].split()[0] else "Push</b>: torch"):
        assert words in logged, words
    assert "http://" not in logged and "https://" not in logged  # self-contained
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.description.startswith(f"{champion.tags['sluice.trainer']} pushed with auc ")
    assert "judged against no champion (first push). Report: " in champion.description
    rebuilt = run_sluice("report", run_id, "--home", home, "-o", tmp_path / "again.html")
    assert rebuilt.returncode == 0
    assert (tmp_path / "again.html").read_text().count("data:image/png;base64,") >= 4


def test_unchanged_rerun_is_skipped_and_pushes_nothing(home, taxi_sample):
    result = run_sluice("run", "--home", home, "--data", taxi_sample, "--steps", 60, "--trainer", "both")
    assert result.returncode == 0 and "nothing changed since MLflow run" in result.stderr
    assert "▶" not in result.stderr
    assert push.versions(home / "serving", MODEL) == [1]
    parents, children = runs(home)
    assert parents[-1].data.tags["sluice.up_to_date_with"] == parents[0].info.run_id
    assert children[parents[-1].info.run_id] == []


def test_forced_rerun_reexecutes_every_step_and_a_tie_keeps_the_champion(home, taxi_sample):
    """`--force` re-executes every step (TFX's cache off). The retrained model (seeded:
    the same weights) is judged against v1, which serves now; it ties, and a tie does
    not replace the champion."""
    framework = push.push_record(home / "serving" / MODEL / "1")["framework"]
    result = run_sluice("run", "--home", home, "--data", taxi_sample, "--steps", 60,
                        "--trainer", framework, "--force")
    assert result.returncode == 0
    assert push.versions(home / "serving", MODEL) == [1]
    parents, children = runs(home)
    states = {c.info.run_name: c.data.tags["sluice.state"] for c in children[parents[-1].info.run_id]}
    upstream = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "Transform",
                f"train_{framework}", f"evaluate_{framework}", "push"}
    assert {states[s] for s in upstream} == {"COMPLETE"}, states
    assert "vs v1" in result.stderr
    decision = parents[-1].data.tags["sluice.push_decision"]
    assert "blessed, not promoted" in decision and "the champion stays" in decision, decision
    assert len(client_for(home).search_model_versions(f"name='{MODEL}'")) == 1


def test_worse_model_is_not_blessed_and_champion_stays(home, taxi_sample, tmp_path):
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema=str(config_module.load("taxi").schema),
               training={"steps": 2, "learning_rate": 1e-6, "seed": 7},
               gate={"primary_metric": "auc", "thresholds": {"auc": 0.0}, "max_regression": {"auc": 0.01}})
    config = tmp_path / "worse.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = run_sluice("run", "--home", home, "--config", config, "--trainer", "keras")
    assert result.returncode == 0
    assert push.versions(home / "serving", MODEL) == [1]
    parents, children = runs(home)
    steps = {c.info.run_name: c for c in children[parents[-1].info.run_id]}
    assert steps["evaluate_keras"].data.metrics["blessed"] == 0
    assert "not pushed" in parents[-1].data.tags["sluice.push_decision"]
    assert str(client_for(home).get_model_version_by_alias(MODEL, "champion").version) == "1"
    blessing = Path(steps["evaluate_keras"].data.tags["sluice.output.blessing"])
    reasons = json.loads((blessing / "evaluation.json").read_text())["reasons"]
    assert any("REGRESSED" in r for r in reasons)


def test_drifted_data_stops_before_transform(home, taxi_sample, tmp_path):
    frame = pd.read_csv(taxi_sample)
    frame.loc[::3, "payment_type"] = "Bitcoin"
    drifted = tmp_path / "drifted.csv"
    frame.to_csv(drifted, index=False)
    result = run_sluice("run", "--home", home, "--data", drifted, "--trainer", "both")
    assert result.returncode == 3
    assert "payment_type" in result.stderr and "Bitcoin" in result.stderr
    assert push.versions(home / "serving", MODEL) == [1]
    parents, children = runs(home)
    assert parents[-1].info.status == "FAILED"
    assert "DataAnomaliesError" in parents[-1].data.tags["sluice.error"]
    names = {c.info.run_name for c in children[parents[-1].info.run_id]}
    assert "Transform" not in names and "train_keras" not in names
    assert str(client_for(home).get_model_version_by_alias(MODEL, "champion").version) == "1"


def test_bad_column_fails_fast_and_keeps_champion(home, taxi_sample, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text(taxi_sample.read_text().replace("trip_miles", "trip_mile", 1))
    result = run_sluice("run", "--home", home, "--data", broken)
    assert result.returncode == 2
    assert "column 'trip_miles'" in result.stderr and "Did you mean 'trip_mile'" in result.stderr
    parents, _ = runs(home)
    assert parents[-1].info.status == "FAILED"
    assert str(client_for(home).get_model_version_by_alias(MODEL, "champion").version) == "1"


def test_penguin_multiclass_with_torch(tmp_path):
    home = tmp_path / "penguin"
    result = run_sluice("run", "--home", home, "--config", "penguin", "--trainer", "torch")
    assert result.returncode == 0
    served = ServableModel(home / "serving" / "sluice-penguin" / "1")
    assert served.layout.framework == "torch" and served.layout.classes == ("Adelie", "Chinstrap", "Gentoo")
    frame = pd.read_csv(config_module.load("penguin").data).head(4)
    probs = served.predict({c: list(frame[c]) for c in served.feature_names})
    assert probs.shape == (4, 3)
    assert (Path(served.path) / "model.onnx").exists() and (Path(served.path) / "transform").is_dir()
    # Without --config, the commands read what this home holds (its latest run's config).
    lineage = run_sluice("lineage", "--home", home)
    assert lineage.returncode == 0 and "sluice-penguin version 1  (champion)" in lineage.stdout
    experiment = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_experiment_by_name("sluice-penguin")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # Judged per class: the gate's metrics, MLflow and the report hold each class.
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    evaluate = client.search_runs([experiment.experiment_id], "attributes.run_name = 'evaluate_torch'")[0]
    per_class = json.loads((Path(evaluate.data.tags["sluice.output.blessing"]) / "evaluation.json")
                           .read_text())["metrics"]["per_class"]
    assert list(per_class["classes"]) == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(per_class["confusion_matrix"]) == 3
    assert sum(map(sum, per_class["confusion_matrix"])) == evaluate.data.metrics["example_count"]
    assert {"recall.Adelie", "precision.Gentoo", "macro_f1"} <= set(evaluate.data.metrics)
    parent = client.get_run(evaluate.data.tags["mlflow.parentRunId"])
    report = Path(client.download_artifacts(parent.info.run_id, "report.html", str(tmp_path)))
    assert "torch: confusion matrix" not in report.read_text()  # plotted, not as text
    assert "torch: per class (macro-F1" in report.read_text()
