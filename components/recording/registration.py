"""The push step registers what it pushed: the MLflow model version with the tags that
say what produced it and why it was let through, and the 'champion' alias moved to the
version serving, under the serving dir's push lock. It runs in the push step's process,
so a compiled job registers as `sluice run` does."""
from __future__ import annotations

import json
from pathlib import Path

from components.recording.step import Step
from components.recording.step_run import ParentRun, log_model

COPIED_FROM_PARENT = ("sluice.project_commit", "sluice.data_sha256", "sluice.data_digest", "sluice.span_names",
                      "sluice.schema_sha256", "sluice.git_commit", "sluice.config")


def register(parent: ParentRun, push_step: Step) -> str | None:
    """Registers push_step's pushed model, if it pushed one -> the MLflow version."""
    from components.artifacts import tfx_layout
    from components.artifacts.evaluation_record import read_evaluation
    from components.push import read_decision
    from components.recording import fluent
    from components.recording.registry import point_champion_at_serving
    from pipelines.patches.quiet import prints_silenced
    from serving.model_format import push_target

    props = tfx_layout.custom_properties(push_step.output("pushed_model"))
    if not props.get("pushed"):
        return None
    client = parent.client
    model_uri, name = props["model_uri"], props.get("candidate", props["framework"])
    train = _train_run(parent, model_uri)
    logged = (train.data.tags.get("sluice.logged_model") if train else None) or log_model(
        parent.tracking_uri, parent.run_id, model_uri, props["framework"])
    candidate = next(c for c in read_decision(push_step.output("pushed_model").uri)["candidates"]
                     if c["model_uri"] == model_uri)
    blessing = read_evaluation(candidate["blessing_uri"])
    run_tags = client.get_run(parent.run_id).data.tags
    config = _config(parent)
    known = config is not None and name in {c.name for c in config.candidates}
    tags = {
        "sluice.run_id": parent.run_id,
        "sluice.trainer": props["framework"],
        "sluice.candidate": name,
        "sluice.module": config.candidate(name).module_name if known else "",
        "sluice.hyperparameters": json.dumps(config.candidate(name).hparams(config.training), sort_keys=True)
        if known else "",
        **_tuning_tags(parent, train),
        "sluice.hyperparameters_given": json.dumps(config.candidate(name).hyperparameters, sort_keys=True)
        if known else "",
        **_warm_start_tags(train),
        **{k: run_tags[k] for k in COPIED_FROM_PARENT if k in run_tags},
        "sluice.schema": str(config.schema) if config else "",
        "sluice.serving_path": props["pushed_destination"],
        "sluice.serving_version": str(props["pushed_version"]),
        "sluice.baseline_version": str(props.get("baseline_version", 0)),
        "sluice.rejudged": candidate.get("rejudged", ""),
        "sluice.blessing": "; ".join(blessing["reasons"]),
        "sluice.infra_validation": candidate.get("infra_validation", ""),
        "sluice.push_decision": props["reason"],
        "sluice.metrics": json.dumps(blessing["metrics"]["overall"]),
    }
    serving_dir = Path(push_step.properties["serving_dir"])
    model_name = push_step.properties["model_name"]
    import mlflow

    with push_target.push_lock(serving_dir, model_name), prints_silenced(), fluent.store(parent.tracking_uri):
        version = mlflow.register_model(logged, model_name, tags=tags)
        champion = point_champion_at_serving(model_name, parent.tracking_uri, serving_dir)
    client.set_tag(parent.run_id, "sluice.registered_version", version.version)
    if champion:
        client.set_tag(parent.run_id, "sluice.champion_version", champion)
    return version.version


def _train_run(parent: ParentRun, model_uri: str):
    """The child run of the train step that produced model_uri (it logged the model),
    or None where that step was reused from TFX's cache in this run."""
    found = parent.client.search_runs(
        [parent.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.run_id}' and "
                                f"tags.`sluice.model_uri` = '{model_uri}'")
    return found[0] if found else None


def _config(parent: ParentRun):
    """The pipeline config the run was opened with (its config.json), or None."""
    import tempfile

    from sluice_config.config import PipelineConfig

    with tempfile.TemporaryDirectory() as scratch:
        try:
            raw = json.loads(Path(parent.client.download_artifacts(parent.run_id, "config.json",
                                                                   scratch)).read_text())
        except Exception:  # a parent opened without it
            return None
    return PipelineConfig.from_custom_config(raw)


def _history(train) -> dict:
    """The pushed candidate's training history (trainers.data), where its run has one."""
    from trainers.data import HISTORY_FILE, read_history

    run_dir = train.data.tags.get("sluice.output.model_run") if train else None
    if not run_dir or not Path(run_dir, HISTORY_FILE).is_file():
        return {}
    return read_history(run_dir)


def _tuning_tags(parent: ParentRun, train) -> dict[str, str]:
    """Where the hyperparameters came from when a tune step chose them: the values it
    trained with (over the config's), the study, the trial and the trial's run."""
    history = _history(train)
    tuning = history.get("tuning") or {}
    if "trial" not in tuning:
        return {}
    tags = {"sluice.hyperparameters": json.dumps(history["hparams"], sort_keys=True),
            "sluice.tuning.values": json.dumps(tuning["values"], sort_keys=True),
            "sluice.tuning.study": tuning["study"], "sluice.tuning.trial": str(tuning["trial"]),
            "sluice.tuning.objective": f"{tuning['metric']} {tuning['value']:.6g} on the tuning split"}
    found = parent.client.search_runs([parent.experiment_id],
                                      f"tags.`sluice.study` = '{tuning['study']}' and "
                                      f"tags.`sluice.trial` = '{tuning['trial']}'")
    if found:
        tags["sluice.tuning.trial_run_id"] = found[0].info.run_id
    return tags


def _warm_start_tags(train) -> dict[str, str]:
    """How the pushed candidate started: from scratch, or from a serving version's
    weights (the training history's reason: trainers.warm_start)."""
    from trainers.warm_start import started_from

    history = _history(train)
    if not history:
        return {}
    why = history.get("warm_start", "")
    base = started_from(why)
    return {"sluice.warm_start": why, **({"sluice.warm_started_from": str(base)} if base else {})}
