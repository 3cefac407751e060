"""Every version that served is in the registry: a push that died between the serving
dir and the registry (the pipeline killed after the push step wrote version N, before
its run registered it) is registered from the version's push record by the next run on
the home, or by `sluice models` or `sluice serve` at start.

The version's model is logged under a child run of the pipeline run that pushed it
(named in the push record, where the push step saw one), so the lineage walk still goes
version -> pipeline run -> data, schema, commit. The version is tagged
`sluice.registered_after_recovery` with the reason, and the champion alias is pointed at
the version serving now."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from components.recording import fluent, registry
from pipelines.lineage import mlflow_record
from pipelines.patches.quiet import prints_silenced

log = logging.getLogger("sluice")
RECOVERED_TAG = "sluice.registered_after_recovery"
COPIED_FROM_RUN = ("sluice.data_sha256", "sluice.data_digest", "sluice.schema", "sluice.schema_sha256",
                   "sluice.git_commit", "sluice.config", "sluice.span_names", "sluice.project_commit")


def unregistered(serving_dir: Path, model_name: str, tracking_uri: str) -> list[Path]:
    """The version folders with a push marker (in service or rolled back) that no
    registered model version stands for."""
    from serving.model_format import push_target

    folders = [serving_dir / model_name / str(v) for v in push_target.versions(serving_dir, model_name)]
    folders += [serving_dir / model_name / push_target.ROLLED_BACK / str(v)
                for v in push_target.rolled_back(serving_dir, model_name)]
    folders = [f for f in folders if (f / push_target.PUSH_MARKER).is_file()]
    if not folders:  # nothing pushed: the store is not even opened
        return []
    registered = list(registry.registered_versions(model_name, tracking_uri).values())
    client = MlflowClient(tracking_uri)
    records = {f: push_target.push_record(f) for f in folders}
    return [f for f in folders if not _is_registered(records[f], serving_path(serving_dir, model_name, f),
                                                     registered)
            and not _still_registering(client, records[f])]


def _is_registered(record: dict, served_at: Path, registered: list) -> bool:
    """Whether a registered version stands for the pushed version: the one registered
    for the path it served at, or the one its pushing run registered for its number (the
    same home copied or moved elsewhere; homes sharing one server hold other runs). A push
    record from before records named their run is matched by the number alone."""
    run_id = record.get("mlflow_run_id", "")
    for mv in registered:
        if mv.tags.get("sluice.serving_path") == str(served_at):
            return True
        if mv.tags.get("sluice.serving_version") == served_at.name and (
                not run_id or mv.tags.get("sluice.run_id") == run_id):
            return True
    return False


def serving_path(serving_dir: Path, model_name: str, folder: Path) -> Path:
    """Where the version in folder served: a rolled-back version is registered under the
    path it was pushed to, not the folder it was moved aside to."""
    return serving_dir / model_name / folder.name


def _still_registering(client: MlflowClient, record: dict) -> bool:
    """Whether the run that pushed is still going (it registers its push itself, after
    the push step): RUNNING, and not a process of this host that is gone. A run of
    another host is taken at its word until that host's next run marks it killed."""
    parent = _run_or_none(client, record.get("mlflow_run_id", ""))
    if parent is None or parent.info.status != "RUNNING":
        return False
    return not mlflow_record.owner_gone(parent.data.tags.get("sluice.pid", ""))


def recover(serving_dir: Path, tracking_uri: str, by: str, model_names=None) -> list[tuple[int, str]]:
    """Registers every unregistered pushed version of the models in serving_dir (or of
    model_names), under each model's push lock; -> (serving version, MLflow version)."""
    from serving.model_format import push_target

    serving_dir = Path(serving_dir).resolve()  # registered versions name absolute paths
    names = model_names or ([p.name for p in serving_dir.iterdir() if p.is_dir()] if serving_dir.is_dir() else [])
    done = []
    for name in names:
        if not unregistered(serving_dir, name, tracking_uri):
            continue
        with push_target.push_lock(serving_dir, name):
            for folder in unregistered(serving_dir, name, tracking_uri):  # again, under the lock
                try:
                    done.append((int(folder.name), _register(folder, serving_path(serving_dir, name, folder),
                                                             name, tracking_uri, by)))
                except Exception as err:  # noqa: BLE001 - the others still get their record
                    log.warning("registry: %s version %s has no registered version and could not be "
                                "registered from its push record: %s: %s", name, folder.name,
                                type(err).__name__, err)
            if done:
                registry.point_champion_at_serving(name, tracking_uri, serving_dir)
    return done


def _register(folder: Path, served_at: Path, model_name: str, tracking_uri: str, by: str) -> str:
    from serving.model_format import push_target
    from serving.model_format.layout import FeatureLayout
    from serving.model_format.mlflow_model import log_servable

    FeatureLayout.load(folder)  # a folder that cannot be served is named, and no run is opened for it
    record = push_target.push_record(folder)
    client = MlflowClient(tracking_uri)
    parent = _run_or_none(client, record.get("mlflow_run_id", ""))
    experiment_id = parent.info.experiment_id if parent else _experiment(client, model_name)
    reason = (f"the push of version {folder.name} ended before its registration (the run "
              f"{'was killed' if parent is None or parent.info.status != 'FINISHED' else 'did not register it'}); "
              f"registered from its push record by {by} at {time.strftime('%Y-%m-%d %H:%M:%S')}")
    tags = {**({k: parent.data.tags[k] for k in COPIED_FROM_RUN if k in parent.data.tags} if parent else {}),
            **_record_tags(record, served_at), RECOVERED_TAG: reason,
            "sluice.run_id": parent.info.run_id if parent else ""}
    run_tags = {"sluice.kind": "registration_recovery", RECOVERED_TAG: reason,
                **({"mlflow.parentRunId": parent.info.run_id} if parent else {})}
    # the fluent API logs the model (as the push step's registration does), on this store alone
    with fluent.store(tracking_uri), mlflow.start_run(
            experiment_id=experiment_id, run_name=f"register v{folder.name} after recovery",
            tags=run_tags), prints_silenced():
        info = log_servable(folder)
        version = mlflow.register_model(info.model_uri, model_name, tags=tags)
    log.warning("registry: %s version %s had no registered version: registered as MLflow version %s "
                "(%s)", model_name, folder.name, version.version, reason)
    return version.version


def _record_tags(record: dict, served_at: Path) -> dict[str, str]:
    """What the push record says of the version, as register_push tags it."""
    from components.artifacts.evaluation_record import read_evaluation

    tags = {"sluice.trainer": record.get("framework", ""),
            "sluice.candidate": record.get("candidate", record.get("framework", "")),
            "sluice.serving_path": str(served_at), "sluice.serving_version": served_at.name,
            "sluice.baseline_version": str(record.get("baseline_version", 0)),
            "sluice.push_decision": record.get("reason", "")}
    try:
        blessing = read_evaluation(record["blessing_uri"])
        tags.update({"sluice.blessing": "; ".join(blessing["reasons"]),
                     "sluice.metrics": json.dumps(blessing["metrics"]["overall"])})
    except (KeyError, OSError, ValueError):
        tags["sluice.blessing"] = "(the blessing is no longer on disk)"
    return tags


def _run_or_none(client: MlflowClient, run_id: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id) if run_id else None
    except MlflowException:
        return None


def _experiment(client: MlflowClient, model_name: str) -> str:
    found = client.get_experiment_by_name(model_name)
    return found.experiment_id if found else client.create_experiment(model_name)
