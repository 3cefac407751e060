"""A PyTorch candidate as served: the transform graph (transform/) makes the model's
inputs from raw features, and the TorchScript model (model.pt, probabilities on top)
takes them in the layout's order."""
from __future__ import annotations

from pathlib import Path

from serving.model_format import raw_features
from serving.model_format.layout import FeatureLayout

PIP_REQUIREMENTS = ["torch"]


class Loaded:
    def __init__(self, path: Path, layout: FeatureLayout):
        import tensorflow_transform as tft
        import torch

        self._layout = layout
        self._transform = tft.TFTransformOutput(str(path / "transform"))
        self.raw_spec = self._transform.raw_feature_spec()
        self._torch = torch.jit.load(str(path / "model.pt"))

    def graph(self, raw: dict):
        inputs = raw_features.to_transform_inputs(raw, self.raw_spec)
        transformed = self._transform.transform_raw_features(inputs, drop_unused_features=True)
        return self._layout.tensors(transformed)

    def finish(self, outputs):
        import torch

        with torch.no_grad():
            return self._torch(*(torch.from_numpy(outputs[n].numpy())
                                 for n in self._layout.input_names)).numpy()
