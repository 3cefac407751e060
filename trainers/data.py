"""What both trainers share besides their batches (trainers/batches.py): the feature
layout the model is built for, and the training history the lineage recorder reads."""
from __future__ import annotations

import json
import time
from pathlib import Path

import tensorflow as tf
import tensorflow_transform as tft

from serving.model_format.layout import ID, LABEL_KEY, NUMERIC, FeatureLayout, ModelInput
from sluice_config.config import Candidate, FeatureKind, PipelineConfig
from trainers.module_contract import TrainerModuleError

HISTORY_FILE = "history.json"
LOSS_POINTS = 20  # points on the training loss curve


def feature_layout(config: PipelineConfig, tft_output: tft.TFTransformOutput,
                   candidate: Candidate) -> FeatureLayout:
    """The model's inputs, read from the transform output: every feature the
    preprocessing_fn returns but the label. Floats are numbers; an integer is an id
    where the transform declares its range (vocabularies, buckets, hashes: TFT's
    num_buckets_for_transformed_feature), else a number."""
    spec = tft_output.transformed_feature_spec()
    if LABEL_KEY not in spec:
        raise TrainerModuleError(
            f"the preprocessing_fn ({config.preprocessing_fn}) returns no {LABEL_KEY!r}: it "
            f"must return the label under that key (it returns {', '.join(sorted(spec))}).")
    inputs = []
    for name in sorted(n for n in spec if n != LABEL_KEY):
        feature = spec[name]
        if not isinstance(feature, tf.io.FixedLenFeature) or list(feature.shape) not in ([], [1]):
            raise TrainerModuleError(
                f"the preprocessing_fn's output {name!r} is not one value per row ({feature}); "
                "sluice feeds the model one [batch] tensor per feature.")
        if feature.dtype == tf.string:
            raise TrainerModuleError(
                f"the preprocessing_fn's output {name!r} is a string; a model takes numbers and "
                "ids: map it with tft.compute_and_apply_vocabulary or tft.hash_strings.")
        size = None
        if feature.dtype == tf.int64:
            try:
                size = tft_output.num_buckets_for_transformed_feature(name)
            except ValueError:
                size = None
        inputs.append(ModelInput(name, ID if size else NUMERIC, size))
    raw_spec = tft_output.raw_feature_spec()
    return FeatureLayout(
        framework=candidate.framework,
        candidate=candidate.name,
        task=config.task,
        classes=() if config.task == "regression" else tuple(str(c) for c in config.label.classes or ("0", "1")),
        inputs=tuple(inputs),
        raw_features={
            f.name: "string" if raw_spec[f.name].dtype == tf.string else "number"
            for f in config.features
        },
        required=tuple(f.name for f in config.features
                       if isinstance(raw_spec[f.name], tf.io.FixedLenFeature)),
        domains=raw_domains(config, raw_spec),
    )


def raw_domains(config: PipelineConfig, raw_spec: dict) -> dict[str, dict]:
    """What each raw feature may hold: an integer where the schema types it INT, the ids
    0..buckets-1 of an identity feature, and the schema's own domain (int or float
    range, a string domain's values) where the curated schema gives one."""
    from_schema = schema_domains(config.schema) if config.schema.is_file() else {}
    domains = {}
    for feature in config.features:
        found = dict(from_schema.get(feature.name, {}))
        if raw_spec[feature.name].dtype == tf.int64:
            found["integer"] = True
        if feature.kind == FeatureKind.IDENTITY:
            found.update(integer=True, min=0, max=feature.buckets - 1,
                         source=f"identity ids 0..{feature.buckets - 1}")
        if found:
            domains[feature.name] = found
    return domains


def schema_domains(schema_path: Path) -> dict[str, dict]:
    """The curated schema's domains: {feature: {min, max} or {values}, source}."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(schema_path).read_text(), schema_pb2.Schema())
    named = {d.name: list(d.value) for d in schema.string_domain}
    found = {}
    for feature in schema.feature:
        kind = feature.WhichOneof("domain_info")
        if kind in ("int_domain", "float_domain"):
            domain = getattr(feature, kind)
            bounds = {k: getattr(domain, k) for k in ("min", "max") if domain.HasField(k)}
            if bounds:
                found[feature.name] = {**bounds, "source": f"the schema's {kind}"}
        elif kind == "string_domain" or (kind == "domain" and feature.domain in named):
            values = list(feature.string_domain.value) if kind == "string_domain" else named[feature.domain]
            found[feature.name] = {"values": values, "source": "the schema's string domain"}
    return found


def curve_points(steps: int) -> int:
    """Points on the loss curve: the largest divisor of steps up to LOSS_POINTS, so every
    point averages the same number of steps in both trainers."""
    return max(n for n in range(1, min(LOSS_POINTS, steps) + 1) if steps % n == 0)


def write_history(run_dir: str, losses: list[float], started: float, layout: FeatureLayout,
                  workers: int = 1, streamed: bool = False, module: str = "",
                  hparams: dict | None = None, warm_start: str = "", tuning: dict | None = None) -> None:
    """Loss curve, training time and how it trained, read by the lineage recorder."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    history = {"framework": layout.framework, "candidate": layout.candidate, "module": module,
               "inputs": list(layout.input_names), "hparams": hparams or {}, "warm_start": warm_start,
               "tuning": tuning or {},
               "loss": losses,
               "train_seconds": time.time() - started,
               "workers": workers, "batches": "streamed" if streamed else "in memory"}
    (Path(run_dir) / HISTORY_FILE).write_text(json.dumps(history))


def read_history(run_dir: str) -> dict:
    """{framework, candidate, module, inputs, loss, train_seconds, workers, batches},
    as write_history left it."""
    return json.loads((Path(run_dir) / HISTORY_FILE).read_text())
