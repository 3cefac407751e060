"""PyTorch trainer: the same run_fn(fn_args) interface and the same data as Keras.

Exports what serving needs without this code: the Transform graph (transform/), the
model as TorchScript (model.pt) and an ONNX copy (model.onnx) that is checked against
TorchScript with onnxruntime before the export counts as done.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow_transform as tft
import torch
from torch import nn

from pipelines.definition.config import PipelineConfig, Training
from serving.model_format.layout import FeatureLayout
from trainers.data import batch_order, curve_points, feature_layout, load_examples, write_history

FRAMEWORK = "torch"
ONNX_TOLERANCE = 1e-4


class TabularNet(nn.Module):
    """Embeddings for id features, concatenated with dense ones, then an MLP."""

    def __init__(self, layout: FeatureLayout, training: Training):
        super().__init__()
        dim = training.embedding_dim
        self.embeddings = nn.ModuleList(nn.Embedding(n, dim) for n in layout.categorical.values())
        width = len(layout.dense) + dim * len(layout.categorical)
        layers: list[nn.Module] = []
        for units in training.hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.mlp = nn.Sequential(*layers)
        self.binary = layout.task == "binary"
        self.head = nn.Linear(width, 1 if self.binary else layout.num_classes)

    def logits(self, dense: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = [dense] + [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.head(self.mlp(torch.cat(parts, dim=1)))

    def forward(self, dense: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """Class probabilities [B, K]; binary gives [1 - p, p] like the Keras model."""
        logits = self.logits(dense, categorical)
        if self.binary:
            p = torch.sigmoid(logits)
            return torch.cat([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)


def export(model: TabularNet, example: dict[str, np.ndarray], out_dir: Path) -> None:
    """TorchScript for serving, ONNX as a portable copy verified with onnxruntime."""
    import onnxruntime

    model.eval()
    args = tuple(torch.from_numpy(example[k][:8]) for k in ("dense", "categorical"))
    scripted = torch.jit.trace(model, args)
    scripted.save(str(out_dir / "model.pt"))
    torch.onnx.export(
        model, args, str(out_dir / "model.onnx"), dynamo=False,
        input_names=["dense", "categorical"], output_names=["probabilities"],
        dynamic_axes={"dense": {0: "batch"}, "categorical": {0: "batch"}},
    )
    session = onnxruntime.InferenceSession(str(out_dir / "model.onnx"))
    feed = {i.name: example[i.name][:8] for i in session.get_inputs()}
    onnx_probs = session.run(None, feed)[0]
    torch_probs = scripted(*args).detach().numpy()
    if not np.allclose(onnx_probs, torch_probs, atol=ONNX_TOLERANCE):
        raise RuntimeError("ONNX export disagrees with TorchScript; not exporting.")


def run_fn(fn_args) -> None:
    """Trains on the transformed train split and exports transform + TorchScript + ONNX."""
    config = PipelineConfig.from_custom_config(fn_args.custom_config)
    training = config.training
    torch.manual_seed(training.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, FRAMEWORK)
    inputs, labels = load_examples(fn_args.train_files, tft_output, layout)
    order = batch_order(len(labels), fn_args.train_steps, training.batch_size, training.seed)

    model = TabularNet(layout, training)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss() if model.binary else nn.CrossEntropyLoss()
    dense, categorical = torch.from_numpy(inputs["dense"]), torch.from_numpy(inputs["categorical"])
    target = torch.from_numpy(labels.astype(np.float32 if model.binary else np.int64))
    started = time.time()
    losses = []
    for chunk in np.split(order, curve_points(len(order))):
        chunk_losses = []
        for rows in torch.from_numpy(chunk):
            logits = model.logits(dense[rows], categorical[rows])
            loss = loss_fn(logits[:, 0] if model.binary else logits, target[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            chunk_losses.append(loss.item())
        losses.append(float(np.mean(chunk_losses)))
    write_history(fn_args.model_run_dir, losses, started, FRAMEWORK)

    out_dir = Path(fn_args.serving_model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export(model, inputs, out_dir)
    shutil.copytree(fn_args.transform_output, out_dir / "transform")
    layout.save(out_dir)
