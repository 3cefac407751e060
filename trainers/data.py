"""What both trainers share: the transformed examples as arrays, the feature layout,
and the seeded order of training batches, so Keras and PyTorch see the same data in
the same order and differ only in the framework."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from pipelines.definition.config import FeatureKind, PipelineConfig
from serving.model_format.layout import LABEL_KEY, FeatureLayout

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


def load_examples(file_patterns, tft_output, layout: FeatureLayout):
    """Transformed TFRecords -> ({"dense", "categorical"} matrices, labels)."""
    files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
    spec = tft_output.transformed_feature_spec()
    columns: dict[str, list] = {}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096)
    for batch in dataset.map(lambda x: tf.io.parse_example(x, spec)):
        for key, value in batch.items():
            columns.setdefault(key, []).append(value.numpy().reshape(len(value), -1)[:, 0])
    arrays = {key: np.concatenate(parts) for key, parts in columns.items()}
    # One canonical row order, whatever order the files hold: ExampleGen ends in a Beam
    # Reshuffle, so the same rows can arrive in another order, and the seeded batches
    # would then pick other rows (a reproduction would train a different model).
    order = np.lexsort([arrays[key] for key in sorted(arrays, reverse=True)])
    arrays = {key: values[order] for key, values in arrays.items()}
    return layout.matrices(arrays), arrays[LABEL_KEY].astype(np.int64)


def batch_order(rows: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """Row indices for every training step, [steps, batch_size], seeded."""
    return np.random.default_rng(seed).integers(0, rows, size=(steps, batch_size))


def curve_points(steps: int) -> int:
    """Points on the loss curve: the largest divisor of steps up to LOSS_POINTS, so every
    point averages the same number of steps in both trainers."""
    return max(n for n in range(1, min(LOSS_POINTS, steps) + 1) if steps % n == 0)


def write_history(run_dir: str, losses: list[float], started: float, framework: str) -> None:
    """Loss curve and training time, read by the lineage recorder."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    history = {"framework": framework, "loss": losses, "train_seconds": time.time() - started}
    (Path(run_dir) / HISTORY_FILE).write_text(json.dumps(history))


def read_history(run_dir: str) -> dict:
    """{framework, loss, train_seconds}, as write_history left it."""
    return json.loads((Path(run_dir) / HISTORY_FILE).read_text())
