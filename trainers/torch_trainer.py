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
from torch.nn.parallel import DistributedDataParallel

from pipelines.definition.config import PipelineConfig, Training
from serving.model_format.layout import FeatureLayout
from trainers import distributed
from trainers.batches import training_batches
from trainers.data import curve_points, feature_layout, write_history

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


class Logits(nn.Module):
    """The net's logits as forward(): DDP prepares its gradient averaging in forward."""

    def __init__(self, net: TabularNet):
        super().__init__()
        self.net = net

    def forward(self, dense: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return self.net.logits(dense, categorical)


def run_fn(fn_args) -> None:
    """Trains on the transformed train split and exports transform + TorchScript + ONNX;
    with training.workers > 1, on that many worker processes (trainers/distributed.py)."""
    distributed.train_or_launch(FRAMEWORK, fn_args, train)


def train(fn_args, config: PipelineConfig, worker: distributed.Worker) -> None:
    """This worker's part of training; worker 0 writes the history and the model."""
    training = config.training
    torch.manual_seed(training.seed)
    device = torch.device("cpu")
    if worker.count > 1:
        gpu = torch.cuda.is_available()
        device = torch.device("cuda", worker.local_rank) if gpu else device
        if gpu:  # NCCL's collectives run on the current device: one GPU per worker
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if gpu else "gloo")  # env:// rendezvous
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, FRAMEWORK)
    batches = training_batches(fn_args.train_files, tft_output, layout, training,
                               fn_args.train_steps, worker)
    model = TabularNet(layout, training).to(device)
    logits = Logits(model)
    if worker.count > 1:  # averages the workers' gradients in backward()
        logits = DistributedDataParallel(logits, device_ids=[device.index] if device.index is not None else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss() if model.binary else nn.CrossEntropyLoss()
    started = time.time()
    losses, chunk_losses = [], []
    chunk = fn_args.train_steps // curve_points(fn_args.train_steps)
    for inputs, labels in batches.steps:
        dense, categorical = (torch.from_numpy(inputs[k]).to(device) for k in ("dense", "categorical"))
        target = torch.from_numpy(labels.astype(np.float32 if model.binary else np.int64)).to(device)
        out = logits(dense, categorical)
        loss = loss_fn(out[:, 0] if model.binary else out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        chunk_losses.append(loss.detach())
        if len(chunk_losses) == chunk:
            losses.append(mean_over_workers(torch.stack(chunk_losses).mean(), worker))
            chunk_losses = []
    if worker.count > 1:
        torch.distributed.destroy_process_group()
    if not worker.chief:
        return
    write_history(fn_args.model_run_dir, losses, started, FRAMEWORK, worker.count, batches.streamed)
    out_dir = Path(fn_args.serving_model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export(model.cpu(), batches.example, out_dir)
    shutil.copytree(fn_args.transform_output, out_dir / "transform")
    layout.save(out_dir)


def mean_over_workers(value: torch.Tensor, worker: distributed.Worker) -> float:
    """The loss of the global batch: the mean of the workers' equal shares."""
    if worker.count > 1:
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.SUM)
        value = value / worker.count
    return float(value)
