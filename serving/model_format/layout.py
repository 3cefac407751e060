"""The contract between Transform, the trainers and serving: which transformed
features a model reads, in which order, and how to assemble them into matrices.

Both trainers write it next to the model (sluice.json) and the serving side reads it,
so a pushed model can be used without the config or the training code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LABEL_KEY = "label_xf"
LAYOUT_FILE = "sluice.json"


def transformed_name(name: str) -> str:
    return f"{name}_xf"


@dataclass(frozen=True)
class FeatureLayout:
    framework: str  # "keras" | "torch"
    task: str  # "binary" | "multiclass"
    classes: tuple[str, ...]  # class names, index order
    dense: tuple[str, ...]  # numeric features, z-scored floats
    categorical: dict[str, int] = field(default_factory=dict)  # name -> id count
    raw_features: dict[str, str] = field(default_factory=dict)  # name -> "string"|"number"
    required: tuple[str, ...] = ()  # raw features the schema says are always present

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def matrices(self, transformed: dict) -> dict[str, np.ndarray]:
        """Transformed feature columns -> {"dense": float32 [B, D], "categorical": int64 [B, C]}."""
        rows = len(next(iter(transformed.values())))
        dense = [np.asarray(transformed[transformed_name(n)], np.float32) for n in self.dense]
        cats = [np.asarray(transformed[transformed_name(n)], np.int64) for n in self.categorical]
        return {
            "dense": np.stack(dense, 1) if dense else np.zeros((rows, 0), np.float32),
            "categorical": np.stack(cats, 1) if cats else np.zeros((rows, 0), np.int64),
        }

    def tensor_matrices(self, transformed: dict) -> dict:
        """matrices() inside a TF graph: transformed feature tensors -> {"dense": float32
        [B, D], "categorical": int64 [B, C]}."""
        import tensorflow as tf

        columns = {
            "dense": [tf.cast(transformed[transformed_name(n)], tf.float32) for n in self.dense],
            "categorical": [tf.cast(transformed[transformed_name(n)], tf.int64) for n in self.categorical],
        }
        batch = tf.shape(next(c for cols in columns.values() for c in cols))[0]
        return {key: tf.stack(cols, 1) if cols else tf.zeros([batch, 0], dtype)
                for (key, cols), dtype in zip(columns.items(), (tf.float32, tf.int64))}

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / LAYOUT_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, model_dir: Path) -> FeatureLayout:
        raw = json.loads((Path(model_dir) / LAYOUT_FILE).read_text())
        return cls(**{**raw, "classes": tuple(raw["classes"]), "dense": tuple(raw["dense"]),
                      "required": tuple(raw.get("required", ()))})

    def example_row(self) -> dict:
        """A valid request row (zeros, empty strings, optional values missing): the
        server's warm-up request."""
        return {n: (None if n not in self.required else "" if kind == "string" else 0.0)
                for n, kind in self.raw_features.items()}
