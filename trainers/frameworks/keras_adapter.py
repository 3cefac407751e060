"""The Keras adapter: run_fn(fn_args) as TFX's Trainer calls it, for any Keras
candidate (trainers.module_contract).

The module's build_model(features, hparams) returns a tf.keras.Model taking a dict of
[batch] tensors (features.inputs: float32 numbers, int64 ids) and answering the positive
class's probability [batch, 1] (binary), the class probabilities [batch, classes], or
the value [batch, 1] (regression; default loss: mean squared error).
Optional hooks: loss(features, hparams) -> a Keras loss taking (labels, outputs),
optimizer(hparams) -> a Keras optimizer (default Adam at hparams["learning_rate"]).
sluice opens the distribution strategy's scope around them, builds the batches, runs
the loop, and exports a SavedModel whose serving signature takes raw features (one
[batch] tensor per column, NaN/'' for missing) and applies the Transform graph inside,
so serving needs neither the config nor this code.
"""
from __future__ import annotations

import time

from serving.model_format import keras2  # noqa: F401  (before TensorFlow: Keras 2 for this trainer)

# isort: split
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.saved.saved_transform_io_v2 import SavedModelLoader

from serving.model_format import raw_features
from serving.model_format.flavors import keras_flavor
from serving.model_format.layout import FeatureLayout
from trainers import distributed, module_contract, warm_start
from trainers.batches import training_batches
from trainers.data import curve_points, feature_layout, write_history
from trainers.frameworks import run_candidate, tuned_from, tuned_hparams
from trainers.module_contract import TrainerModuleError, where

FRAMEWORK = "keras"


def default_loss(features: FeatureLayout):
    none = tf.keras.losses.Reduction.NONE  # per example: the train step averages
    if features.regression:
        return tf.keras.losses.MeanSquaredError(reduction=none)
    if features.task == "binary":
        return tf.keras.losses.BinaryCrossentropy(reduction=none)
    return tf.keras.losses.SparseCategoricalCrossentropy(reduction=none)


def train_step_function(model, loss_fn, optimizer, strategy: tf.distribute.Strategy, global_batch: int):
    """One optimizer step as a graph function -> the global batch's mean loss. Each
    replica averages its examples' losses over the global batch, and the strategy sums
    the gradients, so any number of workers takes the step one worker would.

    autograph=False on purpose: the code is plain TF ops, and autograph's conversion of
    Keras's own fit machinery cost ~25 s per process (the first fit call) here."""

    def replica_step(inputs, labels):
        with tf.GradientTape() as tape:
            per_example = loss_fn(labels, model(inputs, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
        return loss

    @tf.function(autograph=False, reduce_retracing=True)
    def step(inputs, labels):
        losses = strategy.run(replica_step, args=(inputs, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return step


def probabilities(outputs, task: str):
    """The model's answer as served: class probabilities [batch, classes], or the value
    [batch, 1] for regression."""
    if task == "binary":
        return tf.concat([1.0 - outputs, outputs], axis=1)
    return outputs


def serving_function(model, transform, raw_spec: dict, layout: FeatureLayout):
    """Raw features in, class probabilities (or the value) out; the transform runs inside."""

    @tf.function(input_signature=[raw_features.signature_spec(raw_spec, layout.raw_features)],
                 autograph=False)
    def serve(raw):
        transformed = transform.apply_transform_model(raw_features.to_transform_inputs(raw, raw_spec))
        return {layout.output_key: probabilities(model(layout.tensors(transformed)), layout.task)}

    return serve


def run_fn(fn_args) -> None:
    """Trains the candidate named in custom_config and exports the raw-feature
    SavedModel; with training.workers > 1, on that many worker processes
    (trainers/distributed.py). A module with its own run_fn gets fn_args as it is."""
    keras2.require()
    run_candidate(FRAMEWORK, fn_args, train)


def build(module, candidate, layout: FeatureLayout, hparams: dict):
    """The module's model, loss and optimizer, checked."""
    model = module.build_model(layout, hparams)
    if not isinstance(model, tf.keras.Model):
        raise TrainerModuleError(f"{where(candidate, 'build_model')} returned {type(model).__name__}; "
                                 "expected a tf.keras.Model.")
    loss = module.loss(layout, hparams) if hasattr(module, "loss") else default_loss(layout)
    optimizer = (module.optimizer(hparams) if hasattr(module, "optimizer")
                 else tf.keras.optimizers.Adam(hparams["learning_rate"]))
    return model, loss, optimizer


def warm_start_from(model, fn_args, candidate, layout: FeatureLayout) -> str:
    """The champion's weights into the model, where trainers.warm_start allows. -> why."""
    folder, why = warm_start.source(fn_args, candidate, layout)
    if folder is None:
        return why
    saved = tf.saved_model.load(str(folder)).weights  # export(): the model's variables, in order
    if [tuple(v.shape) for v in saved] != [tuple(v.shape) for v in model.variables]:
        return "the champion's weights have other shapes (other hyperparameters?): trained from scratch"
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    return why


def check_output(model, inputs: dict, layout: FeatureLayout, candidate) -> None:
    """The model answers [rows, output_size], or the module is named."""
    try:
        got = tuple(model(inputs).shape)
    except Exception as err:
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: the model fails on a batch of "
                                 f"{sorted(inputs)}: {type(err).__name__}: {err}") from None
    rows = len(next(iter(inputs.values())))
    if got != (rows, layout.output_size):
        what = {"binary": "the positive class's probability", "regression": "the predicted value"}.get(
            layout.task, f"the probabilities of the {layout.num_classes} classes")
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: the model answers shape {got} "
                                 f"for {rows} rows; expected {(rows, layout.output_size)}: {what}.")


def train(fn_args, worker: distributed.Worker) -> None:
    """This worker's part of training; worker 0 writes the history and the model."""
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = (tf.distribute.MultiWorkerMirroredStrategy() if worker.count > 1
                else tf.distribute.get_strategy())
    config, candidate = module_contract.candidate_of(fn_args)
    module = module_contract.load(candidate)
    training = config.training
    hparams = tuned_hparams(fn_args, candidate.hparams(training))
    tf.keras.utils.set_random_seed(training.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, candidate)
    batches = training_batches(fn_args.train_files, tft_output, layout, training,
                               fn_args.train_steps, worker)
    with strategy.scope():
        model, loss_fn, optimizer = build(module, candidate, layout, hparams)
    check_output(model, batches.example, layout, candidate)
    started_from = warm_start_from(model, fn_args, candidate, layout)
    step = train_step_function(model, loss_fn, optimizer, strategy, training.batch_size)
    started = time.time()
    losses = fit(step, batches, layout, fn_args.train_steps, candidate)
    if not worker.chief:
        return
    write_history(fn_args.model_run_dir, losses, started, layout, worker.count, batches.streamed,
                  candidate.module_name, hparams, started_from,
                  tuned_from(fn_args))
    if worker.count > 1:  # export plain variables, as single-worker training does
        trained, model = model, build(module, candidate, layout, hparams)[0]
        model(batches.example)
        model.set_weights(trained.get_weights())
    try:
        export(model, tft_output, layout, fn_args.serving_model_dir)
    except Exception as err:
        raise TrainerModuleError(f"{where(candidate, 'build_model')}: the model cannot be exported as a "
                                 f"SavedModel: {type(err).__name__}: {err}") from None


def fit(step, batches, layout: FeatureLayout, steps: int, candidate, checkpoint=None,
        every: int = 0) -> list[float]:
    """The training loop: one optimizer step per batch -> the loss curve (the mean of
    each chunk of steps). checkpoint(step number) is called every `every` steps (a
    tuning trial reports there). A loss that is not finite names the module."""
    one_column = layout.output_size == 1 and layout.task in ("binary", "regression")
    losses = []
    chunk = steps // curve_points(steps)
    for i, (inputs, labels) in enumerate(batches.steps):
        target = labels.astype(np.float32)[:, None] if one_column else labels
        losses.append(step(inputs, target))
        if (i + 1) % chunk == 0:
            losses[-chunk:] = [float(np.mean([float(x) for x in losses[-chunk:]]))]
            if not np.isfinite(losses[-1]):
                raise TrainerModuleError(f"{where(candidate, 'build_model')}: the loss is {losses[-1]} "
                                         f"by step {i + 1}; lower the learning rate or check the model.")
        if checkpoint is not None and ((i + 1) % every == 0 or i + 1 == steps):
            checkpoint(i + 1)
    return losses


def predict(model, inputs: dict[str, np.ndarray], layout: FeatureLayout) -> np.ndarray:
    """What the model would serve for these transformed rows: [rows, classes] or [rows, 1]."""
    parts = [probabilities(model({k: v[i:i + 4096] for k, v in inputs.items()}), layout.task).numpy()
             for i in range(0, len(next(iter(inputs.values()))), 4096)]
    return np.concatenate(parts)


def trial(config, candidate, hparams: dict, transform_output: str, split, steps: int, every: int,
          report) -> None:
    """One tuning trial: the candidate trained with hparams on the split's train rows for
    `steps`, and report(step, predictions on the tuning rows) every `every` steps (the
    tuner may stop it there). Nothing is exported."""
    from trainers.batches import in_memory

    keras2.require()
    module = module_contract.load(candidate)
    tf.keras.utils.set_random_seed(config.training.seed)
    tft_output = tft.TFTransformOutput(transform_output)
    layout = feature_layout(config, tft_output, candidate)
    batches = in_memory(*split.train, config.training, steps)
    strategy = tf.distribute.get_strategy()
    model, loss_fn, optimizer = build(module, candidate, layout, hparams)
    check_output(model, batches.example, layout, candidate)
    step = train_step_function(model, loss_fn, optimizer, strategy, config.training.batch_size)
    tuning_inputs = split.tuning[0]
    fit(step, batches, layout, steps, candidate,
        lambda done: report(done, predict(model, tuning_inputs, layout)), every)


def export(model: tf.keras.Model, tft_output, layout: FeatureLayout, serving_model_dir: str) -> None:
    """A plain tf.Module holding the weights, the transform graph and the signature: all
    that serving needs (a run_fn module calls this too). Tracking Keras objects (the
    model, or TFT's Keras layer) makes the export trace every layer through autograph:
    20 of 25 s of saving here."""
    transform = SavedModelLoader(tft_output.transform_savedmodel_dir)
    module = tf.Module()
    module.weights = list(model.variables)
    module.transform = transform.__dict__  # tracks the loaded graph, as TFT's layer does
    module.serve = serving_function(model, transform, tft_output.raw_feature_spec(), layout)
    keras_flavor.save(serving_model_dir, layout, module, module.serve)
