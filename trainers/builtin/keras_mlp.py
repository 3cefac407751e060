"""The built-in Keras network: embeddings for id features, concatenated with the
numbers, then an MLP. hparams: hidden_units, embedding_dim (training's by default)."""
from __future__ import annotations

import tensorflow as tf


def build_model(features, hparams) -> tf.keras.Model:
    inputs = {i.name: tf.keras.Input((), name=i.name, dtype=i.dtype) for i in features.inputs}
    parts = [tf.keras.layers.Reshape((1,))(inputs[name]) for name in features.numeric]
    for name, size in features.categorical.items():
        parts.append(tf.keras.layers.Embedding(size, hparams["embedding_dim"])(inputs[name]))
    x = tf.keras.layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    for i, units in enumerate(hparams["hidden_units"]):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    activation = {"binary": "sigmoid", "multiclass": "softmax"}.get(features.task)  # None: the value
    outputs = tf.keras.layers.Dense(features.output_size, activation=activation, name="output")(x)
    return tf.keras.Model(inputs, outputs)
