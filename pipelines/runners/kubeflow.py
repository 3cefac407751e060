"""`sluice compile kubeflow`: the one pipeline definition, compiled by TFX's
KubeflowV2DagRunner into a Kubeflow Pipelines v2 job spec. Every executor container
gets TF_USE_LEGACY_KERAS=1: TFX's entrypoint imports TensorFlow before it loads our
trainer, and TFX 1.16 needs Keras 2 (the trainer refuses Keras 3 loudly otherwise).

Where the data is a pattern of spans, the job takes the span as its runtime parameter
`span`: TFX's RangeConfig as JSON (`{"static_range": {"start_span_number": 3,
"end_span_number": 3}}`), empty for the newest span, which ExampleGen's own driver
resolves. ExampleGen reads one span per run there (TFX's limit): training.window and the
comparison with the previous span are the local and Airflow runners' (`sluice run`).

Every step records itself in MLflow (components.recording): each task takes the job's
record (the tracking store, the experiment, the config, the code it was compiled from)
and the job's id, which Kubeflow substitutes for `{{$.pipeline_job_uuid}}` in each run of
the job (KFP's own PIPELINE_JOB_ID_PLACEHOLDER). The first task opens the parent run for
that id; the push task registers the version and closes it."""
from __future__ import annotations

import json
from pathlib import Path

from pipelines.definition.dag import SPAN_PARAMETER, create_pipeline
from pipelines.definition.home_layout import Paths
from pipelines.run import beam_args as beam_args_module
from sluice_config.config import PipelineConfig

# Every executor may import TensorFlow before our trainer does; MLflow 3 reports usage
# over the network unless told not to (sluice's entry points tell it; a task has none).
CONTAINER_ENV = ({"name": "TF_USE_LEGACY_KERAS", "value": "1"},
                 {"name": "MLFLOW_DISABLE_TELEMETRY", "value": "true"})
JOB_ID = "{{$.pipeline_job_uuid}}"  # substituted by Kubeflow in each run of the job


def job_record(config: PipelineConfig, paths: Paths, trainers, tracking_uri: str, beam_args) -> dict:
    """What every task needs to record itself with no `sluice run` around it."""
    from pipelines.lineage.mlflow_record import source_tags

    return {"tracking_uri": tracking_uri, "experiment": config.experiment_name, "orchestrator": "kubeflow",
            "config": config.select(trainers).to_dict(),
            "tags": {**source_tags(config, paths, trainers), "sluice.beam_args": " ".join(beam_args)}}


def compile_job(config: PipelineConfig, paths: Paths, trainers, output: Path, *, image: str,
                beam_args, pipeline_root: str | None, tracking_uri: str) -> Path:
    """Compiles to a KFP v2 PipelineJob JSON (its pipelineSpec is a KFP PipelineSpec)."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_runner

    from components.recording.parent_run import JOB_RUN_KEY

    # KFP brings its own ML Metadata; the pipeline root is where the cluster can write.
    beam_args = beam_args_module.named(beam_args)
    pipeline = create_pipeline(config, paths, trainers, beam_args, pipeline_root=pipeline_root,
                               with_metadata=False, span_parameter=True,
                               job_record=job_record(config, paths, trainers, tracking_uri, beam_args))
    output.parent.mkdir(parents=True, exist_ok=True)
    runner = kfp_runner.KubeflowV2DagRunner(
        config=kfp_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=str(output.parent), output_filename=output.name)
    runner.run(pipeline, write_out=True)
    job = json.loads(output.read_text())
    for executor in job["pipelineSpec"]["deploymentSpec"]["executors"].values():
        if "container" in executor:  # an executor may import TensorFlow before our trainer does
            executor["container"].setdefault("env", []).extend(CONTAINER_ENV)
    for task in job["pipelineSpec"]["root"]["dag"]["tasks"].values():
        parameters = task.get("inputs", {}).get("parameters", {})
        if JOB_RUN_KEY in parameters:
            parameters[JOB_RUN_KEY] = {"runtimeValue": {"constantValue": {"stringValue": JOB_ID}}}
    if SPAN_PARAMETER in job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {}):
        # TFX leaves out an empty default: without it the span would be required
        job["runtimeConfig"].setdefault("parameterValues", {}).setdefault(SPAN_PARAMETER, "")
    output.write_text(json.dumps(job, indent=2, sort_keys=True))
    return output
