"""The contract between Transform, the trainers and serving: which transformed
features a model reads, in which order and of which kind, and what it answers.

It is built from the transform output itself (trainers.features), not from the config,
so every feature a preprocessing_fn adds reaches the model. Trainer modules receive it
as `features` in build_model(features, hparams); the adapters write it next to the
model (sluice.json) and the serving side reads it, so a pushed model can be used
without the config or the training code.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LABEL_KEY = "label_xf"  # the one output key a preprocessing_fn must provide
LAYOUT_FILE = "sluice.json"
NUMERIC, ID = "float32", "int64"  # what a model input holds: a number, or an id


def transformed_name(name: str) -> str:
    """The default preprocessing_fn's name for a config feature's output."""
    return f"{name}_xf"


@dataclass(frozen=True)
class ModelInput:
    """One transformed feature as the model receives it: a [batch] tensor of float32
    numbers, or of int64 ids in 0..vocabulary_size-1 (where the transform declares the
    range: a vocabulary, buckets, a hash)."""

    name: str
    dtype: str  # NUMERIC | ID
    vocabulary_size: int | None = None


@dataclass(frozen=True)
class FeatureLayout:
    framework: str  # the adapter that trained it and loads it (trainers.frameworks)
    task: str  # "binary" | "multiclass" | "regression"
    classes: tuple[str, ...]  # class names, index order (none for regression)
    inputs: tuple[ModelInput, ...] = ()  # the transform's outputs but the label
    raw_features: dict[str, str] = field(default_factory=dict)  # name -> "string"|"number"
    required: tuple[str, ...] = ()  # raw features the schema says are always present
    candidate: str = ""  # the config's name for the model
    # raw feature -> what the schema and the config allow: {integer, min, max, values,
    # source} (serving.server.input_domains counts or refuses what lies outside)
    domains: dict[str, dict] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def output_size(self) -> int:
        """What build_model's model answers per row: 1 for a binary task (the positive
        class) and for regression (the value), one per class for multiclass."""
        return 1 if self.task in ("binary", "regression") else self.num_classes

    @property
    def output_key(self) -> str:
        """The served output: class probabilities [rows, classes], or the value [rows, 1]."""
        return "value" if self.regression else "probabilities"

    @property
    def output_width(self) -> int:
        """Columns of a served answer: one per class, or the one value."""
        return 1 if self.regression else self.num_classes

    @property
    def label_dtype(self) -> str:
        return "float32" if self.regression else "int64"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @property
    def numeric(self) -> tuple[str, ...]:
        """The inputs that are numbers."""
        return tuple(i.name for i in self.inputs if i.dtype == NUMERIC)

    @property
    def categorical(self) -> dict[str, int]:
        """The id inputs: name -> vocabulary size."""
        return {i.name: i.vocabulary_size for i in self.inputs if i.dtype == ID}

    def columns(self, transformed: dict) -> dict[str, np.ndarray]:
        """Transformed feature columns -> the model's inputs, each in its dtype."""
        return {i.name: np.asarray(transformed[i.name], i.dtype) for i in self.inputs}

    def tensors(self, transformed: dict) -> dict:
        """columns() inside a TF graph."""
        import tensorflow as tf

        return {i.name: tf.cast(transformed[i.name], i.dtype) for i in self.inputs}

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / LAYOUT_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, model_dir: Path) -> FeatureLayout:
        raw = json.loads((Path(model_dir) / LAYOUT_FILE).read_text())
        if "inputs" not in raw:
            raise ValueError(f"{model_dir}: this model was exported by an older sluice (its "
                             f"{LAYOUT_FILE} names no inputs); train it again to serve it.")
        return cls(**{**raw, "classes": tuple(raw["classes"]),
                      "inputs": tuple(ModelInput(**i) for i in raw["inputs"]),
                      "required": tuple(raw.get("required", ()))})

    def example_row(self) -> dict:
        """A valid request row (zeros, empty strings, optional values missing): the
        server's warm-up request."""
        return {n: (None if n not in self.required else "" if kind == "string" else 0.0)
                for n, kind in self.raw_features.items()}
