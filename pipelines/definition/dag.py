"""The one pipeline definition: create_pipeline(...) wires the components into a DAG.

ExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator -> check_anomalies
(gate: anomalies, drift against the baseline) -> Transform -> one Trainer per framework
-> evaluate (gate, per trainer, against the baseline) -> infra_validate (each blessed
candidate served by the real model server) -> push (best blessed candidate, re-judged
if another version serves by then). The baseline (components.baseline) is the version
serving when the pipeline is built, imported as a declared input. Runners only choose
where it runs.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.definition import sources
from pipelines.definition.config import ConfigError, PipelineConfig, as_parameter, to_json

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the repository: code, lock, git
TRAINERS = {"keras": "trainers.keras_trainer.run_fn", "torch": "trainers.torch_trainer.run_fn"}


@dataclass(frozen=True)
class Paths:
    """Where a pipeline keeps its state, all under one home folder."""

    home: Path

    @property
    def pipeline_root(self) -> Path:
        return self.home / "pipeline_root"

    @property
    def metadata(self) -> Path:
        return self.home / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    @property
    def tracking_uri(self) -> str:
        """The local MLflow store, used unless --tracking-uri / MLFLOW_TRACKING_URI say otherwise."""
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"


CONTENT_KEY = "sluice_content_sha256"  # the step parameter that holds what it reads, by content


def content_digests(config: PipelineConfig, trainers) -> dict[str, str]:
    """step id -> the digest of the user's files it reads (the schema file, the
    preprocessing_fn's and each trainer's module with their local imports): a
    parameter of the step, so TFX's cache key sees an in-place edit
    (pipelines.definition.sources), and the record names the contents."""
    digests = {"ImportSchemaGen": sources.file_sha256(config.schema),
               "Transform": sources.function_digest(config.preprocessing_fn)}
    for trainer in trainers:
        digests[f"train_{trainer}"] = sources.function_digest(TRAINERS[trainer])
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


def create_pipeline(config: PipelineConfig, paths: Paths, trainers=("keras", "torch"),
                    beam_args=(), pipeline_root: str | None = None, with_metadata: bool = True,
                    enable_cache: bool = True):
    # The component modules one by one: `tfx.v1` also imports every extension (Vertex AI,
    # BulkInferrer, ...) and took 12 s longer to import here.
    from tfx.components.example_validator.component import ExampleValidator
    from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
    from tfx.components.trainer.component import Trainer
    from tfx.orchestration import metadata
    from tfx.orchestration.pipeline import Pipeline
    from tfx.proto import example_gen_pb2, trainer_pb2

    from components.baseline import baseline_node
    from components.bulk_statistics import BulkStatisticsGen
    from components.bulk_transform import BulkTransform
    from components.check_anomalies import check_anomalies
    from components.csv_examples import ColumnarCsvExampleGen
    from components.drift_reference import references
    from components.evaluate import evaluate
    from components.infra_validate import infra_validate
    from components.push import push
    from serving.model_format import versions as push_target

    folder = config.source.parent if config.source else None
    import_function(config.preprocessing_fn, folder)
    for trainer in trainers:
        import_function(TRAINERS[trainer])
    custom_config = config.to_dict()
    digests = content_digests(config, trainers)

    example_gen = ColumnarCsvExampleGen(
        input_base=str(config.data.parent),
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern=config.data.name)]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
            for name, buckets in config.split.items()])),
    ).with_id("CsvExampleGen")  # the step's name: the same examples as TFX's CsvExampleGen
    statistics_gen = BulkStatisticsGen(examples=example_gen.outputs["examples"]).with_id("StatisticsGen")
    schema_gen = ImportSchemaGen(schema_file=str(config.schema))
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    baseline = baseline_node(paths.serving_dir, config.model_name,
                             pipeline_root or paths.pipeline_root)
    data_gate = check_anomalies(
        anomalies=example_validator.outputs["anomalies"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        baseline=baseline.outputs["result"],
        drift=as_parameter(config.drift_gate),
        references=json.dumps(references(paths.serving_dir, config.model_name,
                                         config.drift.reference), sort_keys=True),
    )
    transform = BulkTransform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=config.preprocessing_fn,
        custom_config=to_json(config.transform_config),  # only what it reads: cached longer
        disable_statistics=True,
        disable_analyzer_cache=True,
    ).with_id("Transform")  # the step's name: the same outputs as TFX's Transform
    transform.add_upstream_node(data_gate)

    gate = as_parameter(config.model_gate)
    components = [example_gen, statistics_gen, schema_gen, example_validator, baseline,
                  data_gate, transform]
    candidates = {}  # <trainer>_model / <trainer>_blessing -> channel
    for trainer in trainers:
        train = Trainer(
            run_fn=TRAINERS[trainer],
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=trainer_pb2.TrainArgs(num_steps=config.training.steps),
            eval_args=trainer_pb2.EvalArgs(num_steps=0),
            custom_config=custom_config,
        ).with_id(f"train_{trainer}")
        judge = evaluate(
            model=train.outputs["model"],
            examples=example_gen.outputs["examples"],
            transform_graph=transform.outputs["transform_graph"],
            baseline=baseline.outputs["result"],
            gate=gate,
        ).with_id(f"evaluate_{trainer}")
        components += [train, judge]
        candidates[f"{trainer}_model"] = train.outputs["model"]
        candidates[f"{trainer}_blessing"] = judge.outputs["blessing"]
    serves = infra_validate(**candidates)
    pusher = push(
        **candidates,
        infra_blessing=serves.outputs["infra_blessing"],
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        transform_graph=transform.outputs["transform_graph"],
        serving_dir=str(paths.serving_dir),
        model_name=config.model_name,
        gate=gate,
        serving_state=push_target.state_digest(paths.serving_dir, config.model_name),
    )
    components += [serves, pusher]
    for component in components:
        if component.id in digests:
            component.exec_properties[CONTENT_KEY] = digests[component.id]
    return Pipeline(
        pipeline_name=f"sluice-{config.name}",
        pipeline_root=pipeline_root or str(paths.pipeline_root),
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(paths.metadata)) if with_metadata else None,
        beam_pipeline_args=list(beam_args),
    )
