"""The one pipeline definition: create_pipeline(...) wires the components into a DAG.

ExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator -> check_anomalies
(gate: anomalies, drift against the baseline) -> Transform -> one Trainer per candidate
(the config's candidates: a framework's adapter and a trainer module; where a candidate
has `tuning:`, a tune step before it hands it the best hyperparameters) -> evaluate
(gate, per candidate, against the baseline) -> infra_validate (each blessed
candidate served by the real model server) -> push (best blessed candidate, re-judged
if another version serves by then). The baseline (components.baseline) is the version
serving when the pipeline is built, imported as a declared input. Runners only choose
where it runs.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from pipelines.definition.home_layout import Paths
from sluice_config import sources, spans, step_ids
from sluice_config.config import PipelineConfig, as_parameter, to_json
from sluice_config.errors import ConfigError

SPAN_PARAMETER = "span"  # the compiled spec's runtime parameter (create_pipeline's span_parameter)
CONTENT_KEY = "sluice_content_sha256"  # the step parameter that holds what it reads, by content


def content_digests(config: PipelineConfig) -> dict[str, str]:
    """step id -> the digest of the user's files it reads (the schema file, the
    preprocessing_fn's module and each candidate's trainer module with their local
    imports, and the framework's adapter): a parameter of the step, so TFX's cache key
    sees an in-place edit (sluice_config.sources), and the record names the
    contents."""
    from trainers import frameworks

    digests = {step_ids.SCHEMA_GEN: sources.file_sha256(config.schema),
               step_ids.TRANSFORM: sources.function_digest(config.preprocessing_fn)}
    for candidate in config.candidates:
        adapter = frameworks.run_fn(candidate.framework).rpartition(".")[0]
        digests[step_ids.train(candidate.name)] = sources.module_digest(candidate.module_name, adapter)
        if candidate.tuning is not None:  # the trials run the same module by the same adapter
            digests[step_ids.tune(candidate.name)] = digests[step_ids.train(candidate.name)]
    return digests


def import_function(dotted: str, folder: Path | None = None):
    """Imports a function by dotted path now, so a typo fails before Beam starts; the
    modules beside the config (folder) are importable."""
    if folder is not None:
        sources.on_import_path(folder)
    module_name, _, name = dotted.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import {dotted!r}: {err}") from err
    if not callable(function):
        raise ConfigError(f"{dotted!r} is not a function")
    return function


def create_pipeline(config: PipelineConfig, paths: Paths, trainers=(),
                    beam_args=(), pipeline_root: str | None = None, with_metadata: bool = True,
                    enable_cache: bool = True, newest_span: str = "",
                    span_parameter: bool = False, job_record: dict | None = None):
    """The DAG for config's candidates (trainers: the names to keep, as
    PipelineConfig.select takes them; all by default). newest_span: the newest span
    and the previous one, which the data gate compares (pipelines.run.span_window).
    span_parameter: where data is a pattern of spans, ExampleGen resolves it itself and
    takes the span as the runtime parameter `span` (a RangeConfig as JSON; empty: the
    newest span), for an orchestrator that runs the compiled spec (Kubeflow).
    job_record: for such an orchestrator, what its steps need to record themselves
    with no `sluice run` around them (components.recording.parent_run): every step
    takes it, and the job's id, as parameters."""
    # The component modules one by one: `tfx.v1` also imports every extension (Vertex AI,
    # BulkInferrer, ...) and took 12 s longer to import here.
    from tfx.components.example_validator.component import ExampleValidator
    from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
    from tfx.components.trainer.component import Trainer
    from tfx.orchestration import metadata
    from tfx.orchestration.pipeline import Pipeline
    from tfx.proto import example_gen_pb2, trainer_pb2

    from components.baseline import baseline_node
    from components.candidate_slots import wire
    from components.data_gate import check_anomalies
    from components.evaluate import evaluate
    from components.executors.bulk_statistics import BulkStatisticsGen
    from components.executors.bulk_transform import BulkTransform
    from components.executors.csv_examples import PREFLIGHT_KEY, ColumnarCsvExampleGen
    from components.gates.drift_reference import reference_eval, references
    from components.infra_validate import infra_validate
    from components.push import push
    from components.recording import parent_run
    from components.recording.executor import recorded
    from components.tune import tune
    from serving.model_format import push_target
    from trainers import frameworks, module_contract

    config = config.select(trainers)
    folder = config.source.parent if config.source else None
    import_function(config.preprocessing_fn, folder)
    module_contract.check_all(config)
    digests = content_digests(config)

    input_base, input_pattern, range_config = config.data.parent, config.data.name, None
    if span_parameter and spans.is_pattern(config.data):
        from tfx.orchestration import data_types

        input_base, input_pattern = spans.base_and_pattern(config.data)
        range_config = data_types.RuntimeParameter(name=SPAN_PARAMETER, ptype=str, default="")
    example_gen = ColumnarCsvExampleGen(
        input_base=str(input_base),
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern=input_pattern)]),
        range_config=range_config,
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
            for name, buckets in config.split.items()])),
    ).with_id(step_ids.EXAMPLE_GEN)
    statistics_gen = BulkStatisticsGen(examples=example_gen.outputs["examples"]).with_id(
        step_ids.STATISTICS_GEN)
    schema_gen = ImportSchemaGen(schema_file=str(config.schema)).with_id(step_ids.SCHEMA_GEN)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(step_ids.EXAMPLE_VALIDATOR)
    baseline = baseline_node(paths.serving_dir, config.model_name,
                             pipeline_root or paths.pipeline_root)
    data_gate = check_anomalies(
        anomalies=example_validator.outputs["anomalies"],
        statistics=statistics_gen.outputs["statistics"],
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        baseline=baseline.outputs["result"],
        drift=as_parameter(config.drift_gate),
        references=json.dumps(references(paths.serving_dir, config.model_name,
                                         config.drift.reference), sort_keys=True),
        **({"spans": newest_span} if newest_span else {}),
    ).with_id(step_ids.DATA_GATE)
    transform = BulkTransform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=config.preprocessing_fn,
        custom_config=to_json(config.transform_config),  # only what it reads: cached longer
        disable_statistics=True,
        disable_analyzer_cache=True,
    ).with_id(step_ids.TRANSFORM)
    transform.add_upstream_node(data_gate)

    gate = as_parameter(config.model_gate)
    pinned = reference_eval(paths.serving_dir, config.model_name)
    pinned_eval_rows = json.dumps(pinned, sort_keys=True) if pinned else ""
    components = [example_gen, statistics_gen, schema_gen, example_validator, baseline,
                  data_gate, transform]
    candidates = []  # (model, blessing) channels, in the config's order
    for candidate in config.candidates:
        tuned = None
        if candidate.tuning is not None:
            tuned = tune(
                examples=transform.outputs["transformed_examples"],
                transform_graph=transform.outputs["transform_graph"],
                custom_config=json.dumps(module_contract.custom_config(config, candidate), sort_keys=True),
                storage=candidate.tuning.storage or f"sqlite:///{paths.tuning_storage}",
            ).with_id(step_ids.tune(candidate.name))
            components.append(tuned)
        train = Trainer(
            run_fn=frameworks.run_fn(candidate.framework),
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=trainer_pb2.TrainArgs(num_steps=config.training.steps),
            eval_args=trainer_pb2.EvalArgs(num_steps=0),
            custom_config=module_contract.custom_config(config, candidate),
            # warm start: the serving model, a declared input (trainers.warm_start)
            base_model=baseline.outputs["result"] if candidate.warm_start else None,
            # tuning: the tune step's best point, a declared input (components.tune)
            hyperparameters=tuned.outputs["best_hyperparameters"] if tuned else None,
        ).with_id(step_ids.train(candidate.name))
        judge = evaluate(
            model=train.outputs["model"],
            examples=example_gen.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            baseline=baseline.outputs["result"],
            gate=gate,
            candidate_name=candidate.name,
            reference_eval=pinned_eval_rows,
        ).with_id(step_ids.evaluate(candidate.name))
        components += [train, judge]
        candidates.append((train.outputs["model"], judge.outputs["blessing"]))
    serves = infra_validate(**wire(candidates)).with_id(step_ids.INFRA_VALIDATE)
    pusher = push(
        **wire(candidates),
        infra_blessing=serves.outputs["infra_blessing"],
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        transform_graph=transform.outputs["transform_graph"],
        serving_dir=str(paths.serving_dir),
        model_name=config.model_name,
        gate=gate,
        reference_eval=pinned_eval_rows,
        serving_state=push_target.state_digest(paths.serving_dir, config.model_name),
    ).with_id(step_ids.PUSH)
    components += [serves, pusher]
    for component in components:
        if component.id in digests:
            component.exec_properties[CONTENT_KEY] = digests[component.id]
        if component is not baseline:  # an importer: no executor, nothing to record
            recorded(component)
            if job_record is not None:
                component.exec_properties[parent_run.JOB_KEY] = json.dumps(job_record, sort_keys=True)
                if component is example_gen:  # no `sluice run` checked the data first: ExampleGen does
                    component.exec_properties[PREFLIGHT_KEY] = json.dumps(job_record["config"], sort_keys=True)
                component.exec_properties[parent_run.JOB_RUN_KEY] = ""  # the job's id, per job
    return Pipeline(
        pipeline_name=config.experiment_name,
        pipeline_root=pipeline_root or str(paths.pipeline_root),
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(paths.metadata)) if with_metadata else None,
        beam_pipeline_args=list(beam_args),
    )
