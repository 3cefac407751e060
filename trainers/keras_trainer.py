"""Keras trainer: run_fn(fn_args) as TFX's Trainer calls it.

Exports a SavedModel whose serving signature takes raw features (one [batch] tensor
per column, NaN/'' for missing) and applies the Transform graph inside, so serving
needs neither the config nor this code.
"""
from __future__ import annotations

import time

from serving.model_format import keras2  # noqa: F401  (before TensorFlow: Keras 2 for this trainer)

# isort: split
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.saved.saved_transform_io_v2 import SavedModelLoader

from pipelines.definition.config import PipelineConfig, Training
from serving.model_format import raw_features
from serving.model_format.layout import FeatureLayout
from trainers import distributed
from trainers.batches import training_batches
from trainers.data import curve_points, feature_layout, write_history

FRAMEWORK = "keras"


def build_model(layout: FeatureLayout, training: Training) -> tf.keras.Model:
    """Embeddings for id features, concatenated with dense ones, then an MLP."""
    dense = tf.keras.Input((len(layout.dense),), name="dense", dtype=tf.float32)
    categorical = tf.keras.Input((len(layout.categorical),), name="categorical", dtype=tf.int64)
    parts = [dense]
    for i, size in enumerate(layout.categorical.values()):
        column = tf.keras.layers.Lambda(lambda x, i=i: x[:, i])(categorical)
        parts.append(tf.keras.layers.Embedding(size, training.embedding_dim)(column))
    x = tf.keras.layers.Concatenate()(parts) if len(parts) > 1 else dense
    for i, units in enumerate(training.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    binary = layout.task == "binary"
    logits = tf.keras.layers.Dense(1 if binary else layout.num_classes, name="logits")(x)
    model = tf.keras.Model({"dense": dense, "categorical": categorical}, logits)
    none = tf.keras.losses.Reduction.NONE  # per example: the train step averages
    loss = (
        tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction=none)
        if binary
        else tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=none)
    )
    model.compile(tf.keras.optimizers.Adam(training.learning_rate), loss)
    return model


def train_step_function(model: tf.keras.Model, strategy: tf.distribute.Strategy, global_batch: int):
    """One optimizer step as a graph function -> the global batch's mean loss. Each
    replica averages its examples' losses over the global batch, and the strategy sums
    the gradients, so any number of workers takes the step one worker would.

    autograph=False on purpose: the code is plain TF ops, and autograph's conversion of
    Keras's own fit machinery cost ~25 s per process (the first fit call) here."""

    def replica_step(inputs, labels):
        with tf.GradientTape() as tape:
            per_example = model.loss(labels, model(inputs, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        model.optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function(autograph=False, reduce_retracing=True)
    def step(inputs, labels):
        losses = strategy.run(replica_step, args=(inputs, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return step


def probabilities(logits, task: str):
    if task == "binary":
        p = tf.sigmoid(logits)
        return tf.concat([1.0 - p, p], axis=1)
    return tf.nn.softmax(logits)


def serving_function(model, transform, raw_spec: dict, layout: FeatureLayout):
    """Raw features in, class probabilities out; the transform runs inside."""

    @tf.function(input_signature=[raw_features.signature_spec(raw_spec, layout.raw_features)],
                 autograph=False)
    def serve(raw):
        transformed = transform.apply_transform_model(raw_features.to_transform_inputs(raw, raw_spec))
        inputs = layout.tensor_matrices(transformed)
        return {"probabilities": probabilities(model(inputs), layout.task)}

    return serve


def run_fn(fn_args) -> None:
    """Trains on the transformed train split and exports the raw-feature SavedModel;
    with training.workers > 1, on that many worker processes (trainers/distributed.py)."""
    keras2.require()
    distributed.train_or_launch(FRAMEWORK, fn_args, train)


def train(fn_args, config: PipelineConfig, worker: distributed.Worker) -> None:
    """This worker's part of training; worker 0 writes the history and the model."""
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = (tf.distribute.MultiWorkerMirroredStrategy() if worker.count > 1
                else tf.distribute.get_strategy())
    training = config.training
    tf.keras.utils.set_random_seed(training.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, FRAMEWORK)
    batches = training_batches(fn_args.train_files, tft_output, layout, training,
                               fn_args.train_steps, worker)
    with strategy.scope():
        model = build_model(layout, training)
    step = train_step_function(model, strategy, training.batch_size)
    binary = layout.task == "binary"
    started = time.time()
    losses = []
    chunk = fn_args.train_steps // curve_points(fn_args.train_steps)
    for i, (inputs, labels) in enumerate(batches.steps):
        target = labels.astype(np.float32)[:, None] if binary else labels
        losses.append(step(inputs, target))
        if (i + 1) % chunk == 0:
            losses[-chunk:] = [float(np.mean([float(x) for x in losses[-chunk:]]))]
    if not worker.chief:
        return
    write_history(fn_args.model_run_dir, losses, started, FRAMEWORK, worker.count, batches.streamed)
    if worker.count > 1:  # export plain variables, as single-worker training does
        trained, model = model, build_model(layout, training)
        model.set_weights(trained.get_weights())
    export(model, tft_output, layout, fn_args.serving_model_dir)


def export(model: tf.keras.Model, tft_output, layout: FeatureLayout, serving_model_dir: str) -> None:
    """A plain tf.Module holding the weights, the transform graph and the signature: all
    that serving needs. Tracking Keras objects (the model, or TFT's Keras layer) makes
    the export trace every layer through autograph: 20 of 25 s of saving here."""
    transform = SavedModelLoader(tft_output.transform_savedmodel_dir)
    module = tf.Module()
    module.weights = list(model.variables)
    module.transform = transform.__dict__  # tracks the loaded graph, as TFT's layer does
    module.serve = serving_function(model, transform, tft_output.raw_feature_spec(), layout)
    tf.saved_model.save(module, serving_model_dir, signatures={"serving_default": module.serve})
    layout.save(serving_model_dir)
