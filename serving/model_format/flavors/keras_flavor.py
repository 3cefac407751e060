"""A Keras candidate as served: its SavedModel's serving signature does everything
(raw features -> transform -> model -> probabilities, or the value)."""
from __future__ import annotations

from pathlib import Path

from serving.model_format.layout import FeatureLayout

PIP_REQUIREMENTS = []  # TensorFlow and TFT: every sluice model needs them


class Loaded:
    def __init__(self, path: Path, layout: FeatureLayout):
        import tensorflow as tf

        self._saved_model = tf.saved_model.load(str(path))
        self._signature = self._saved_model.signatures["serving_default"]
        self._output = layout.output_key
        self.raw_spec = {name: tf.io.VarLenFeature(tf.string if kind == "string" else tf.float32)
                         for name, kind in layout.raw_features.items()}

    def graph(self, raw: dict):
        return self._signature(**raw)[self._output]

    def finish(self, outputs):
        return outputs.numpy()
