"""A Keras wide-and-deep model (Cheng et al., 2016): a linear part over one-hot ids
and the numbers, plus a deep part over embeddings, summed before the output.

hparams: units (deep layer sizes, default [64, 32]), dropout (default 0.1),
embedding_dim (default 8).
"""
from __future__ import annotations

import tensorflow as tf


def build_model(features, hparams) -> tf.keras.Model:
    inputs = {i.name: tf.keras.Input((), name=i.name, dtype=i.dtype) for i in features.inputs}
    numbers = [tf.keras.layers.Reshape((1,))(inputs[n]) for n in features.numeric]
    wide = list(numbers) + [tf.keras.layers.CategoryEncoding(size, output_mode="one_hot")(inputs[n])
                            for n, size in features.categorical.items()]
    deep = list(numbers) + [tf.keras.layers.Embedding(size, hparams.get("embedding_dim", 8))(inputs[n])
                            for n, size in features.categorical.items()]
    join = tf.keras.layers.Concatenate
    x = join()(deep) if len(deep) > 1 else deep[0]
    for units in hparams.get("units", [64, 32]):
        x = tf.keras.layers.Dense(units, activation="relu")(x)
        x = tf.keras.layers.Dropout(hparams.get("dropout", 0.1))(x)
    wide_x = join()(wide) if len(wide) > 1 else wide[0]
    logits = tf.keras.layers.Add()([tf.keras.layers.Dense(features.output_size)(x),
                                    tf.keras.layers.Dense(features.output_size)(wide_x)])
    activation = {"binary": "sigmoid", "multiclass": "softmax"}.get(features.task)  # None: the value
    return tf.keras.Model(inputs, tf.keras.layers.Activation(activation)(logits))
