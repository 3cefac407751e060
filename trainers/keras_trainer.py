"""Keras trainer: run_fn(fn_args) as TFX's Trainer calls it.

Exports a SavedModel whose serving signature takes raw features (one [batch] tensor
per column, NaN/'' for missing) and applies the Transform graph inside, so serving
needs neither the config nor this code.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from serving import raw_features
from serving.layout import FeatureLayout
from trainers.data import LOSS_POINTS, batch_order, feature_layout, load_examples, write_history

FRAMEWORK = "keras"


def build_model(layout: FeatureLayout, training: dict) -> tf.keras.Model:
    """Embeddings for id features, concatenated with dense ones, then an MLP."""
    dense = tf.keras.Input((len(layout.dense),), name="dense", dtype=tf.float32)
    categorical = tf.keras.Input((len(layout.categorical),), name="categorical", dtype=tf.int64)
    parts = [dense]
    for i, size in enumerate(layout.categorical.values()):
        column = tf.keras.layers.Lambda(lambda x, i=i: x[:, i])(categorical)
        parts.append(tf.keras.layers.Embedding(size, training["embedding_dim"])(column))
    x = tf.keras.layers.Concatenate()(parts) if len(parts) > 1 else dense
    for i, units in enumerate(training["hidden_units"]):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    binary = layout.task == "binary"
    logits = tf.keras.layers.Dense(1 if binary else layout.num_classes, name="logits")(x)
    model = tf.keras.Model({"dense": dense, "categorical": categorical}, logits)
    loss = (
        tf.keras.losses.BinaryCrossentropy(from_logits=True)
        if binary
        else tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.compile(tf.keras.optimizers.Adam(training["learning_rate"]), loss)
    return model


def probabilities(logits, task: str):
    if task == "binary":
        p = tf.sigmoid(logits)
        return tf.concat([1.0 - p, p], axis=1)
    return tf.nn.softmax(logits)


def serving_function(model, tft_output: tft.TFTransformOutput, layout: FeatureLayout):
    """Raw features in, class probabilities out; the transform runs inside."""
    raw_spec = tft_output.raw_feature_spec()
    model.tft_layer = tft_output.transform_features_layer()  # tracked for export

    @tf.function(input_signature=[raw_features.signature_spec(raw_spec, layout.raw_features)])
    def serve(raw):
        transformed = model.tft_layer(raw_features.to_transform_inputs(raw, raw_spec))
        columns = {
            "dense": [tf.cast(transformed[f"{n}_xf"], tf.float32) for n in layout.dense],
            "categorical": [tf.cast(transformed[f"{n}_xf"], tf.int64) for n in layout.categorical],
        }
        batch = tf.shape(next(iter(raw.values())))[0]
        inputs = {
            key: tf.stack(cols, 1) if cols else tf.zeros([batch, 0], dtype)
            for (key, cols), dtype in zip(columns.items(), (tf.float32, tf.int64))
        }
        return {"probabilities": probabilities(model(inputs), layout.task)}

    return serve


def run_fn(fn_args) -> None:
    """Trains on the transformed train split and exports the raw-feature SavedModel."""
    config = fn_args.custom_config
    training = config["training"]
    tf.keras.utils.set_random_seed(training["seed"])
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    layout = feature_layout(config, tft_output, FRAMEWORK)
    inputs, labels = load_examples(fn_args.train_files, tft_output, layout)
    order = batch_order(len(labels), fn_args.train_steps, training["batch_size"], training["seed"])

    model = build_model(layout, training)
    started = time.time()
    losses = []
    for chunk in np.array_split(order, min(LOSS_POINTS, len(order))):
        rows = chunk.reshape(-1)
        data = tf.data.Dataset.from_tensor_slices(
            ({k: v[rows] for k, v in inputs.items()}, labels[rows].astype(np.float32))
        ).batch(training["batch_size"])
        history = model.fit(data, epochs=1, verbose=0)
        losses.append(float(history.history["loss"][-1]))
    write_history(fn_args.model_run_dir, losses, started, FRAMEWORK)

    serve = serving_function(model, tft_output, layout)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures={"serving_default": serve})
    layout.save(fn_args.serving_model_dir)
