"""The lineage walk every orchestrator's record must pass, and the shape they share.

From the model registry's 'champion' alias to what produced the version serving:
alias -> version -> the run that logged it -> the pipeline's parent run -> the dataset
with its digest, the code commit, the config, the schema, the evaluation metrics, the
blessing. walk() asserts each link and returns the record's shape (which tags,
artifacts and step runs it has): a local run, an Airflow DAG run and a Kubeflow job are
each held to SHAPE."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from mlflow.tracking import MlflowClient

from sluice_config import step_ids
from sluice_config.sources import file_sha256

PARENT_TAGS = ("sluice.git_commit", "sluice.lock_sha256", "sluice.config", "sluice.schema_sha256",
               "sluice.data_sha256", "sluice.data_digest", "sluice.registered_version",
               "sluice.push_decision")
VERSION_TAGS = ("sluice.run_id", "sluice.trainer", "sluice.candidate", "sluice.module",
                "sluice.hyperparameters", "sluice.data_sha256", "sluice.data_digest",
                "sluice.schema_sha256", "sluice.git_commit", "sluice.config", "sluice.serving_path",
                "sluice.serving_version", "sluice.blessing", "sluice.infra_validation",
                "sluice.push_decision", "sluice.metrics")
IMPORTER = "baseline"  # an importer runs no sluice code on Kubeflow: recorded where ML Metadata shows it


def walk(client: MlflowClient, model_name: str, primary_metric: str = "auc") -> dict:
    """Walks from the champion alias to the data, code, config and schema -> the shape."""
    version = client.get_model_version_by_alias(model_name, "champion")
    tags = version.tags
    assert all(tags.get(k) for k in VERSION_TAGS if k != "sluice.hyperparameters"), \
        {k: tags.get(k) for k in VERSION_TAGS}
    parent = client.get_run(tags["sluice.run_id"])
    assert "mlflow.parentRunId" not in parent.data.tags and parent.info.status == "FINISHED"
    logged_by = client.get_run(version.run_id)  # the train step's run, which logged the model
    assert logged_by.data.tags.get("mlflow.parentRunId", parent.info.run_id) == parent.info.run_id
    ptags = parent.data.tags
    assert ptags["sluice.registered_version"] == str(version.version)
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", ptags["sluice.git_commit"]), ptags["sluice.git_commit"]
    for key in ("sluice.data_sha256", "sluice.schema_sha256", "sluice.git_commit"):
        assert tags[key] == ptags[key], key
    datasets = parent.inputs.dataset_inputs
    assert datasets and datasets[0].dataset.digest == ptags["sluice.data_digest"] == ptags["sluice.data_sha256"][:8]
    with tempfile.TemporaryDirectory() as scratch:
        config = json.loads(Path(client.download_artifacts(parent.info.run_id, "config.json", scratch)).read_text())
        schema = Path(client.download_artifacts(parent.info.run_id, f"schema/{Path(config['schema']).name}",
                                                 scratch))
        assert file_sha256(schema) == ptags["sluice.schema_sha256"]
    assert tags["sluice.candidate"] in {c["name"] for c in config["candidates"]}
    assert parent.data.params["label.name"] == config["label"]["name"]
    metrics = json.loads(tags["sluice.metrics"])
    assert primary_metric in metrics and primary_metric in tags["sluice.blessing"]
    steps = {r.info.run_name: r for r in client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")}
    evaluate = steps[f"evaluate_{tags['sluice.candidate']}"]
    # (ML Metadata keeps 6 digits: a step reused from TFX's cache reports them)
    assert abs(evaluate.data.metrics[primary_metric] - metrics[primary_metric]) < 1e-5, \
        (evaluate.data.metrics, evaluate.data.tags.get("sluice.state"), metrics)
    assert all(r.info.status == "FINISHED" for r in steps.values()), {n: r.info.status for n, r in steps.items()}
    assert {"rows_train", "rows_eval"} <= set(steps["StatisticsGen"].data.metrics)
    return {"parent_tags": sorted(k for k in PARENT_TAGS if k in ptags),
            "parent_artifacts": sorted(a.path for a in client.list_artifacts(parent.info.run_id)
                                       if a.path in ("config.json", "schema")),
            "version_tags": sorted(k for k in VERSION_TAGS if k in tags),
            "steps": sorted({_kind(n) for n in steps if n != IMPORTER})}


SHAPE = {"parent_tags": sorted(PARENT_TAGS), "parent_artifacts": ["config.json", "schema"],
         "version_tags": sorted(VERSION_TAGS),
         "steps": sorted(["CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                          "check_anomalies", "Transform", "train_<candidate>", "evaluate_<candidate>",
                          "infra_validate", "push"])}


def _kind(step: str) -> str:
    """A step's id with its candidate's name left out (runs may train other candidates)."""
    role = step_ids.candidate_step(step)
    return f"{role[0]}_<candidate>" if role else step
