"""The PyTorch adapter: the same run_fn(fn_args) interface and the same batches as
Keras, for any PyTorch candidate (trainers.module_contract).

The module's build_model(features, hparams) returns a torch.nn.Module whose forward
takes a dict of [batch] tensors (features.inputs: float32 numbers, int64 ids) and
returns logits: [batch, 1] for the positive class (binary), [batch, classes], or the
value [batch, 1] (regression; default loss: mean squared error).
Optional hooks: loss(logits, labels, features) -> a scalar tensor (default: binary or
multiclass cross-entropy on the logits), optimizer(parameters, hparams) (default Adam
at hparams["learning_rate"]). sluice seeds, batches, wraps the model for DDP, and
exports what serving needs without this code: the Transform graph (transform/), the
model with the probabilities on top as TorchScript (model.pt) and an ONNX copy
(model.onnx) checked against TorchScript with onnxruntime before the export counts.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow_transform as tft
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from serving.model_format.flavors import torch_flavor
from serving.model_format.layout import FeatureLayout
from trainers import distributed, module_contract, warm_start
from trainers.batches import training_batches
from trainers.data import curve_points, feature_layout, write_history
from trainers.frameworks import run_candidate, tuned_from, tuned_hparams
from trainers.module_contract import TrainerModuleError, where

FRAMEWORK = "torch"
ONNX_TOLERANCE = 1e-4


class PositionalInputs(nn.Module):
    """The user's dict-taking model as forward(*tensors), one per input in the layout's
    order: what TorchScript tracing, ONNX and DDP take without surprises."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.names, tensors)))


class Probabilities(nn.Module):
    """What is served: class probabilities [B, K] (binary gives [1 - p, p] like Keras),
    or for regression the value [B, 1] as the module returns it."""

    def __init__(self, logits: PositionalInputs, task: str):
        super().__init__()
        self.logits = logits
        self.binary = task == "binary"
        self.regression = task == "regression"

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        logits = self.logits(*tensors)
        if self.regression:
            return logits
        if self.binary:
            p = torch.sigmoid(logits)
            return torch.cat([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)


def as_tensors(inputs: dict[str, np.ndarray], layout: FeatureLayout, device) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(inputs[name]).to(device) for name in layout.input_names)


def export(model: nn.Module, layout: FeatureLayout, example: dict[str, np.ndarray], out_dir: Path,
           transform_output: str) -> None:
    """TorchScript for serving, ONNX as a portable copy verified with onnxruntime, the
    transform graph and the layout (a run_fn module calls this too)."""
    import onnxruntime

    out_dir.mkdir(parents=True, exist_ok=True)
    served = Probabilities(PositionalInputs(model, layout.input_names), layout.task).eval()
    args = as_tensors({k: v[:8] for k, v in example.items()}, layout, "cpu")
    scripted = torch.jit.trace(served, args)
    names = list(layout.input_names)
    onnx_file = out_dir / torch_flavor.ONNX_FILE
    torch.onnx.export(served, args, str(onnx_file), dynamo=False,
                      input_names=names, output_names=[layout.output_key],
                      dynamic_axes={name: {0: "batch"} for name in names})
    session = onnxruntime.InferenceSession(str(onnx_file))
    feed = {i.name: example[i.name][:8] for i in session.get_inputs()}
    onnx_probs = session.run(None, feed)[0]
    torch_probs = scripted(*args).detach().numpy()
    if not np.allclose(onnx_probs, torch_probs, atol=ONNX_TOLERANCE):
        raise RuntimeError("ONNX export disagrees with TorchScript; not exporting.")
    torch_flavor.save(out_dir, layout, scripted, transform_output)


def run_fn(fn_args) -> None:
    """Trains the candidate named in custom_config and exports transform + TorchScript +
    ONNX; with training.workers > 1, on that many worker processes
    (trainers/distributed.py). A module with its own run_fn gets fn_args as it is."""
    run_candidate(FRAMEWORK, fn_args, train)


def default_loss(logits: torch.Tensor, labels: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    if layout.regression:
        return nn.functional.mse_loss(logits[:, 0], labels)
    if layout.task == "binary":
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    return nn.functional.cross_entropy(logits, labels)


def build(module, candidate, layout: FeatureLayout, hparams: dict) -> nn.Module:
    model = module.build_model(layout, hparams)
    if not isinstance(model, nn.Module):
        raise TrainerModuleError(f"{where(candidate, 'build_model')} returned {type(model).__name__}; "
                                 "expected a torch.nn.Module.")
    return model


def hooks(module, model: nn.Module, hparams: dict):
    """The module's optimizer and loss, or the defaults (Adam, default_loss)."""
    optimizer = (module.optimizer(model.parameters(), hparams) if hasattr(module, "optimizer")
                 else torch.optim.Adam(model.parameters(), lr=hparams["learning_rate"]))
    return optimizer, (module.loss if hasattr(module, "loss") else default_loss)


SERVED_PREFIX = "logits.model."  # the user's module inside Probabilities(PositionalInputs(...))


def warm_start_from(model: nn.Module, fn_args, candidate, layout: FeatureLayout) -> str:
    """The champion's weights into the model, where trainers.warm_start allows. -> why."""
    folder, why = warm_start.source(fn_args, candidate, layout)
    if folder is None:
        return why
    served = torch_flavor.load_torchscript(folder).state_dict()
    weights = {k[len(SERVED_PREFIX):]: v for k, v in served.items() if k.startswith(SERVED_PREFIX)}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        return f"the champion's weights do not fit ({str(err).splitlines()[0]}): trained from scratch"
    return why


def check_output(logits: PositionalInputs, args, layout: FeatureLayout, candidate) -> None:
    try:
        with torch.no_grad():
            got = tuple(logits(*args).shape)
    except Exception as err:
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: forward fails on a batch of "
                                 f"{list(layout.input_names)}: {type(err).__name__}: {err}") from None
    rows = len(args[0]) if args else 0
    if got != (rows, layout.output_size):
        what = {"binary": "the positive class's logit", "regression": "the predicted value"}.get(
            layout.task, f"a logit for each of the {layout.num_classes} classes")
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: forward returns shape {got} "
                                 f"for {rows} rows; expected {(rows, layout.output_size)}: {what}.")


def train(fn_args, worker: distributed.Worker) -> None:
    """This worker's part of training; worker 0 writes the history and the model."""
    config, candidate = module_contract.candidate_of(fn_args)
    module = module_contract.load(candidate)
    training = config.training
    hparams = tuned_hparams(fn_args, candidate.hparams(training))
    torch.manual_seed(training.seed)
    device = torch.device("cpu")
    if worker.count > 1:
        gpu = torch.cuda.is_available()
        device = torch.device("cuda", worker.local_rank) if gpu else device
        if gpu:  # NCCL's collectives run on the current device: one GPU per worker
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if gpu else "gloo")  # env:// rendezvous
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, candidate)
    batches = training_batches(fn_args.train_files, tft_output, layout, training,
                               fn_args.train_steps, worker)
    model = build(module, candidate, layout, hparams).to(device)
    logits = PositionalInputs(model, layout.input_names)
    check_output(logits, as_tensors(batches.example, layout, device), layout, candidate)
    started_from = warm_start_from(model, fn_args, candidate, layout)
    if worker.count > 1:  # averages the workers' gradients in backward()
        logits = DistributedDataParallel(logits, device_ids=[device.index] if device.index is not None else None)
    optimizer, loss_fn = hooks(module, model, hparams)
    started = time.time()
    losses = fit(logits, optimizer, loss_fn, batches, layout, fn_args.train_steps, candidate, device,
                 worker)
    if worker.count > 1:
        torch.distributed.destroy_process_group()
    if not worker.chief:
        return
    write_history(fn_args.model_run_dir, losses, started, layout, worker.count, batches.streamed,
                  candidate.module_name, hparams, started_from,
                  tuned_from(fn_args))
    try:
        export(model.cpu(), layout, batches.example, Path(fn_args.serving_model_dir),
               fn_args.transform_output)
    except Exception as err:
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: the model cannot be exported "
                                 f"(TorchScript, ONNX): {type(err).__name__}: {err}") from None


def fit(logits, optimizer, loss_fn, batches, layout: FeatureLayout, steps: int, candidate,
        device, worker: distributed.Worker = distributed.Worker(), checkpoint=None,
        every: int = 0) -> list[float]:
    """The training loop: one optimizer step per batch -> the loss curve (the mean of
    each chunk of steps, over the workers). checkpoint(step number) is called every
    `every` steps (a tuning trial reports there). A loss that is not finite names the
    module."""
    losses, chunk_losses = [], []
    chunk = steps // curve_points(steps)
    dtype = torch.int64 if layout.task == "multiclass" else torch.float32
    for i, (inputs, labels) in enumerate(batches.steps):
        target = torch.from_numpy(labels).to(device, dtype)
        loss = loss_fn(logits(*as_tensors(inputs, layout, device)), target, layout)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        chunk_losses.append(loss.detach())
        if len(chunk_losses) == chunk:
            losses.append(mean_over_workers(torch.stack(chunk_losses).mean(), worker))
            chunk_losses = []
            if not np.isfinite(losses[-1]):
                raise TrainerModuleError(
                    f"{where(candidate, 'build_model')}: the loss is {losses[-1]} by step "
                    f"{len(losses) * chunk}; lower the learning rate or check the model.")
        if checkpoint is not None and ((i + 1) % every == 0 or i + 1 == steps):
            checkpoint(i + 1)
    return losses


def predict(logits: PositionalInputs, inputs: dict[str, np.ndarray], layout: FeatureLayout) -> np.ndarray:
    """What the model would serve for these transformed rows: [rows, classes] or [rows, 1]."""
    served = Probabilities(logits, layout.task).eval()
    with torch.no_grad():
        answer = served(*as_tensors(inputs, layout, "cpu")).numpy()
    logits.train()
    return answer


def trial(config, candidate, hparams: dict, transform_output: str, split, steps: int, every: int,
          report) -> None:
    """One tuning trial: the candidate trained with hparams on the split's train rows for
    `steps`, and report(step, predictions on the tuning rows) every `every` steps (the
    tuner may stop it there). Nothing is exported."""
    from trainers.batches import in_memory

    module = module_contract.load(candidate)
    torch.manual_seed(config.training.seed)
    layout = feature_layout(config, tft.TFTransformOutput(transform_output), candidate)
    batches = in_memory(*split.train, config.training, steps)
    model = build(module, candidate, layout, hparams)
    logits = PositionalInputs(model, layout.input_names)
    check_output(logits, as_tensors(batches.example, layout, "cpu"), layout, candidate)
    optimizer, loss_fn = hooks(module, model, hparams)
    tuning_inputs = split.tuning[0]
    fit(logits, optimizer, loss_fn, batches, layout, steps, candidate, "cpu",
        checkpoint=lambda done: report(done, predict(logits, tuning_inputs, layout)), every=every)


def mean_over_workers(value: torch.Tensor, worker: distributed.Worker) -> float:
    """The loss of the global batch: the mean of the workers' equal shares."""
    if worker.count > 1:
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.SUM)
        value = value / worker.count
    return float(value)
