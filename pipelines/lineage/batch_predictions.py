"""`sluice predict`'s side of the record: one MLflow run per prediction job, tagged with
the model version it used, so `sluice lineage` lists what each version scored."""
from __future__ import annotations

from pathlib import Path

KIND = "batch_prediction"  # the sluice.kind tag of a prediction run


def record_predictions(tracking_uri: str, model, data: str, scoring, output: Path, fmt: str, keep, rows: int,
           seconds: float, beam_args, beam_jobs: dict | None = None) -> str:
    """One MLflow run for the job, in the experiment of the run that made the model
    (model: pipelines.jobs.registered_model.ModelVersion); -> its run id."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.create_run(model.experiment_id, run_name=f"predict {model.name} v{model.version}", tags={
        "sluice.kind": KIND,
        "sluice.model_name": model.name,
        "sluice.model_version": model.version,
        "sluice.model_run_id": model.run_id,
        "sluice.input_sha256": scoring.sha256,
        "sluice.output": str(output),
        **({"sluice.beam_job_ids": ",".join(beam_jobs)} if beam_jobs else {}),
    })
    run_id = run.info.run_id
    for key, value in {"input": data, "input_files": len(scoring.files), "input_bytes": scoring.bytes,
                       "output": str(output), "format": fmt, "keep": ",".join(keep),
                       "beam_args": " ".join(beam_args)}.items():
        client.log_param(run_id, key, value)
    client.log_metric(run_id, "rows", rows)
    client.log_metric(run_id, "seconds", seconds)
    client.log_metric(run_id, "rows_per_second", rows / max(seconds, 1e-9))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def predictions_of(client, name: str, version: str, limit: int = 5) -> list:
    """The latest prediction runs made with this version (newest first)."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, f"tags.`sluice.kind` = '{KIND}' and tags.`sluice.model_name` = '{name}' "
                     f"and tags.`sluice.model_version` = '{version}'",
        order_by=["attributes.start_time DESC"], max_results=limit)
