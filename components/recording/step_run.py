"""Writes one step's MLflow child run under the pipeline's parent run: state, wall
time, parameters, the figures and files its reporter names
(components.reports.step_reports), and its trained model as a pyfunc. Client calls
with the store passed in; the fluent API only where MLflow offers nothing else (logging
a model), scoped to that store (components.recording.fluent)."""
from __future__ import annotations

from dataclasses import dataclass

from mlflow.tracking import MlflowClient

from components.recording.step import Step


@dataclass(frozen=True)
class ParentRun:
    """The pipeline run's parent run, and the store that holds it."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    opened_by_runner: bool = True  # `sluice run` opened it and closes it; else the job's steps do

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)


def record(parent: ParentRun, step: Step) -> str:
    """A child run for step -> its run id. Lineage describes failures; it never adds
    one: a report that cannot be written is a tag on the child run."""
    client = parent.client
    child = client.create_run(
        parent.experiment_id, start_time=step.start_ms, run_name=step.node_id,
        tags={"mlflow.parentRunId": parent.run_id, "sluice.state": step.state,
              **({"sluice.mlmd_execution_id": str(step.execution_id)} if step.execution_id else {}),
              **step.tags})
    cid = child.info.run_id
    for key, value in step.properties.items():
        client.log_param(cid, key[:250], str(value)[:500])
    for key, artifacts in step.outputs.items():
        client.set_tag(cid, f"sluice.output.{key}", artifacts[0].uri)
        if step.execution_id:  # seen in ML Metadata: the artifact's id there
            client.set_tag(cid, f"sluice.output.{key}.mlmd_id", str(artifacts[0].id))
    try:
        _log_report(parent, cid, step)
    except Exception as err:  # lineage must describe failures, not add them
        client.set_tag(cid, "sluice.lineage_error", f"{type(err).__name__}: {err}"[:500])
    client.log_metric(cid, "wall_seconds", (step.end_ms - step.start_ms) / 1000)
    status = {"FAILED": "FAILED", "RUNNING": "FAILED"}.get(step.state, "FINISHED")
    client.set_terminated(cid, status, end_time=step.end_ms)
    return cid


def _log_report(parent: ParentRun, cid: str, step: Step) -> None:
    """What the step's own module reports: numbers become metrics and strings tags, its
    files and documents artifacts, its model a pyfunc."""
    from components.reports import step_reports

    client = parent.client
    reporter = step_reports.reporter(step.node_id)
    figures = reporter.figures(step)
    kept = reporter.kept(step, figures)
    for run_id, values in ((cid, figures), (parent.run_id, kept.on_pipeline_run)):
        for key, value in values.items():
            if isinstance(value, str):
                client.set_tag(run_id, f"sluice.{key}" if run_id == cid else key, value)
            else:
                client.log_metric(run_id, key, float(value))
    for key, value in kept.params.items():
        client.log_param(cid, key[:250], str(value)[:500])
    for key, values in kept.series.items():
        for i, value in enumerate(values):
            client.log_metric(cid, key, value, step=i)
    for path in kept.files:
        client.log_artifact(cid, str(path))
    for name, document in kept.documents.items():
        if isinstance(document, str):
            client.log_text(cid, document, name)
        else:
            client.log_dict(cid, document, name)
    if kept.model:
        log_model(parent.tracking_uri, cid, *kept.model)
    for child in kept.children:
        _log_child(parent, cid, child)


def _log_child(parent: ParentRun, step_run_id: str, child) -> str:
    """One run nested under the step's run (a tuning trial), in one batch."""
    from mlflow.entities import Metric, Param

    client = parent.client
    run = client.create_run(parent.experiment_id, start_time=child.start_ms or None, run_name=child.name,
                            tags={"mlflow.parentRunId": step_run_id, **child.tags})
    stamp = child.end_ms or child.start_ms or 0
    metrics = [Metric(k, float(v), stamp, 0) for k, v in child.metrics.items()]
    metrics += [Metric(k, float(v), stamp, int(s)) for k, points in child.series.items() for s, v in points]
    client.log_batch(run.info.run_id, metrics=metrics,
                     params=[Param(k[:250], str(v)[:500]) for k, v in child.params.items()])
    client.set_terminated(run.info.run_id, child.status, end_time=child.end_ms or None)
    return run.info.run_id


def log_model(tracking_uri: str, run_id: str, model_uri: str, framework: str) -> str:
    """Logs a trained model to run_id as an MLflow pyfunc that takes raw feature rows
    -> its models:/ uri, also kept on the run (sluice.logged_model) for the push step."""
    import mlflow

    from components.artifacts import tfx_layout
    from components.recording import fluent
    from pipelines.patches.quiet import prints_silenced

    with fluent.store(tracking_uri), mlflow.start_run(run_id=run_id, nested=True), prints_silenced():
        from serving.model_format.mlflow_model import log_servable  # defining it warns, too

        info = log_servable(tfx_layout.serving_model_dir(model_uri))
        mlflow.set_tags({"sluice.model_uri": model_uri, "sluice.framework": framework,
                         "sluice.logged_model": info.model_uri})
    return info.model_uri
