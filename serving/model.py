"""Loads a model directory as the Trainer exported it (or as it was pushed) and
predicts class probabilities from raw feature columns, whichever framework made it.

The evaluation gate predicts through this same code, so what is judged is exactly
what will serve.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from serving.layout import FeatureLayout


class ServableModel:
    """predict({column: [raw values, None = missing]}) -> probabilities [rows, classes]."""

    def __init__(self, model_dir: str | Path):
        import tensorflow as tf
        import tensorflow_transform as tft

        self.path = Path(model_dir)
        self.layout = FeatureLayout.load(self.path)
        if self.layout.framework == "keras":
            self._saved_model = tf.saved_model.load(str(self.path))
            self._signature = self._saved_model.signatures["serving_default"]
            self._raw_spec = {
                name: tf.io.VarLenFeature(tf.string if kind == "string" else tf.float32)
                for name, kind in self.layout.raw_features.items()
            }
        else:
            import torch

            self._transform = tft.TFTransformOutput(str(self.path / "transform"))
            self._raw_spec = self._transform.raw_feature_spec()
            self._torch = torch.jit.load(str(self.path / "model.pt"))
            self._transform_fn = self._traced_transform()

    @property
    def feature_names(self) -> list[str]:
        return list(self.layout.raw_features)

    def missing_features(self, columns) -> list[str]:
        return [n for n in self.feature_names if n not in columns]

    def predict(self, columns: dict[str, list]) -> np.ndarray:
        from serving import raw_features

        missing = self.missing_features(columns)
        if missing:
            raise KeyError(f"missing raw features: {', '.join(missing)}")
        tensors = raw_features.to_tensors({n: columns[n] for n in self.feature_names}, self._raw_spec)
        if self.layout.framework == "keras":
            return _call_flat(self._signature, tensors)["probabilities"].numpy()
        import torch

        transformed = _call_flat(self._transform_fn, tensors)
        matrices = self.layout.matrices({k: v.numpy() for k, v in transformed.items()})
        with torch.no_grad():
            return self._torch(*(torch.from_numpy(matrices[k]) for k in ("dense", "categorical"))).numpy()

    def _traced_transform(self):
        """Raw signature tensors -> the transformed features the PyTorch model reads, as
        one traced function. Run eagerly, assembling the sparse inputs and calling TFT's
        layer took ~60 ms per request; traced, it costs what the Keras signature does."""
        import tensorflow as tf

        from serving import raw_features

        transform, raw_spec = self._transform, self._raw_spec

        @tf.function(input_signature=[raw_features.signature_spec(raw_spec, self.feature_names)],
                     autograph=False)
        def transform_raw(raw):
            inputs = raw_features.to_transform_inputs(raw, raw_spec)
            return transform.transform_raw_features(inputs, drop_unused_features=True)

        return transform_raw.get_concrete_function()


def _call_flat(function, tensors: dict) -> dict:
    """A concrete function of one dict of tensors, called with TF's flat call (TF 2.16,
    pinned by the lock): the keyword call re-binds and re-checks every input first,
    ~0.9 ms of Python per call, half of a one-row prediction. Flat inputs are the dict's
    values in sorted key order, as tf.nest flattens a dict."""
    return function._call_flat([tensors[n] for n in sorted(tensors)], function.captured_inputs)
