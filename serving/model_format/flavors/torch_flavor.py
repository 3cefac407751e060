"""A PyTorch candidate as served: the transform graph (transform/) makes the model's
inputs from raw features, and the TorchScript model (model.pt, probabilities on top)
takes them in the layout's order. The flavor owns the folder's file names: the torch
adapter saves through save(), the server loads through Loaded."""
from __future__ import annotations

import shutil
from pathlib import Path

from serving.model_format import raw_features
from serving.model_format.layout import FeatureLayout

PIP_REQUIREMENTS = ["torch"]
MODEL_FILE = "model.pt"  # TorchScript, the probabilities (or the value) on top
ONNX_FILE = "model.onnx"  # a portable copy, checked against TorchScript when exported
TRANSFORM_DIR = "transform"  # the Transform step's output, as it is
IMPORTS = ("tensorflow", "tensorflow_transform", "torch")  # what loading imports


def save(out_dir: Path, layout: FeatureLayout, scripted, transform_output: str) -> None:
    """Writes what serving loads: the TorchScript model, the transform graph, the layout
    (the ONNX copy, if any, is written to ONNX_FILE by the adapter first)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scripted.save(str(out_dir / MODEL_FILE))
    shutil.copytree(transform_output, out_dir / TRANSFORM_DIR)
    layout.save(out_dir)


def load_torchscript(model_dir: Path):
    """The saved TorchScript model alone (a warm start reads its weights)."""
    import torch

    return torch.jit.load(str(Path(model_dir) / MODEL_FILE))


class Loaded:
    def __init__(self, path: Path, layout: FeatureLayout):
        import tensorflow_transform as tft

        self._layout = layout
        self._transform = tft.TFTransformOutput(str(path / TRANSFORM_DIR))
        self.raw_spec = self._transform.raw_feature_spec()
        self._torch = load_torchscript(path)

    def graph(self, raw: dict):
        inputs = raw_features.to_transform_inputs(raw, self.raw_spec)
        transformed = self._transform.transform_raw_features(inputs, drop_unused_features=True)
        return self._layout.tensors(transformed)

    def finish(self, outputs):
        import torch

        with torch.no_grad():
            return self._torch(*(torch.from_numpy(outputs[n].numpy())
                                 for n in self._layout.input_names)).numpy()
