"""`sluice compile kubeflow`: the one pipeline definition, compiled by TFX's
KubeflowV2DagRunner into a Kubeflow Pipelines v2 job spec. Every executor container
gets TF_USE_LEGACY_KERAS=1: TFX's entrypoint imports TensorFlow before it loads our
trainer, and TFX 1.16 needs Keras 2 (the trainer refuses Keras 3 loudly otherwise).

Where the data is a pattern of spans, the job takes the span as its runtime parameter
`span`: TFX's RangeConfig as JSON (`{"static_range": {"start_span_number": 3,
"end_span_number": 3}}`), empty for the newest span, which ExampleGen's own driver
resolves. ExampleGen reads one span per run there (TFX's limit): training.window and the
comparison with the previous span are the local and Airflow runners' (`sluice run`)."""
from __future__ import annotations

import json
from pathlib import Path

from pipelines.definition.dag import SPAN_PARAMETER, create_pipeline
from pipelines.definition.home_layout import Paths
from pipelines.run import beam_args as beam_args_module
from sluice_config.config import PipelineConfig


def compile_job(config: PipelineConfig, paths: Paths, trainers, output: Path, *, image: str,
             beam_args, pipeline_root: str | None) -> Path:
    """Compiles to a KFP v2 PipelineJob JSON (its pipelineSpec is a KFP PipelineSpec)."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_runner

    # KFP brings its own ML Metadata; the pipeline root is where the cluster can write.
    pipeline = create_pipeline(config, paths, trainers, beam_args_module.named(beam_args), pipeline_root=pipeline_root,
                               with_metadata=False, span_parameter=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    runner = kfp_runner.KubeflowV2DagRunner(
        config=kfp_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=str(output.parent), output_filename=output.name)
    runner.run(pipeline, write_out=True)
    job = json.loads(output.read_text())
    for executor in job["pipelineSpec"]["deploymentSpec"]["executors"].values():
        if "container" in executor:  # an executor may import TensorFlow before our trainer does
            executor["container"].setdefault("env", []).append(
                {"name": "TF_USE_LEGACY_KERAS", "value": "1"})
    if SPAN_PARAMETER in job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {}):
        # TFX leaves out an empty default: without it the span would be required
        job["runtimeConfig"].setdefault("parameterValues", {}).setdefault(SPAN_PARAMETER, "")
    output.write_text(json.dumps(job, indent=2, sort_keys=True))
    return output
