"""What both trainers share besides their batches (trainers/batches.py): the feature
layout the model is built for, and the training history the lineage recorder reads."""
from __future__ import annotations

import json
import time
from pathlib import Path

import tensorflow as tf
import tensorflow_transform as tft

from pipelines.definition.config import FeatureKind, PipelineConfig
from serving.model_format.layout import FeatureLayout

HISTORY_FILE = "history.json"
LOSS_POINTS = 20  # points on the training loss curve


def feature_layout(config: PipelineConfig, tft_output: tft.TFTransformOutput, framework: str) -> FeatureLayout:
    """The model's inputs, from the config (kinds) and Transform (vocabulary sizes)."""
    categorical = {}
    for f in config.features:
        if f.kind == FeatureKind.CATEGORICAL:
            categorical[f.name] = tft_output.vocabulary_size_by_name(f.name) + 1
        elif f.cardinality is not None:  # bucketized, identity
            categorical[f.name] = f.cardinality + 1
    raw_spec = tft_output.raw_feature_spec()
    return FeatureLayout(
        framework=framework,
        task=config.task,
        classes=tuple(str(c) for c in config.label.classes or ("0", "1")),
        dense=tuple(f.name for f in config.features if f.kind == FeatureKind.NUMERIC),
        categorical=categorical,
        raw_features={
            f.name: "string" if raw_spec[f.name].dtype == tf.string else "number"
            for f in config.features
        },
        required=tuple(f.name for f in config.features
                       if isinstance(raw_spec[f.name], tf.io.FixedLenFeature)),
    )


def curve_points(steps: int) -> int:
    """Points on the loss curve: the largest divisor of steps up to LOSS_POINTS, so every
    point averages the same number of steps in both trainers."""
    return max(n for n in range(1, min(LOSS_POINTS, steps) + 1) if steps % n == 0)


def write_history(run_dir: str, losses: list[float], started: float, framework: str,
                  workers: int = 1, streamed: bool = False) -> None:
    """Loss curve, training time and how it trained, read by the lineage recorder."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    history = {"framework": framework, "loss": losses, "train_seconds": time.time() - started,
               "workers": workers, "batches": "streamed" if streamed else "in memory"}
    (Path(run_dir) / HISTORY_FILE).write_text(json.dumps(history))


def read_history(run_dir: str) -> dict:
    """{framework, loss, train_seconds, workers, batches}, as write_history left it."""
    return json.loads((Path(run_dir) / HISTORY_FILE).read_text())
