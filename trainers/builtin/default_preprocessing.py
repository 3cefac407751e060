"""The default preprocessing_fn, shared by both trainers, derived from the config.

numeric -> z-score, categorical -> vocabulary ids (+1 out-of-vocabulary id),
bucketized -> quantile bucket ids, identity -> small integers used as ids as they are
(values outside 0..buckets-1 get the extra id `buckets`; no analyzer, so cheaper than a
vocabulary for hours, days, months, area codes), and the label (a column, or derived by the config's
rule such as "tips > 0.2 * fare"). Missing values are filled before transforming, as
in the TFX taxi example. Replace it by naming your own function's dotted path as
`preprocessing_fn:` in the config.
"""
from __future__ import annotations

import operator

import tensorflow as tf
import tensorflow_transform as tft

from serving.model_format.layout import LABEL_KEY, transformed_name
from sluice_config.config import Feature, FeatureKind, Label, TransformConfig, from_json
from sluice_config.label_rule import parse_rule

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def fill_in_missing(x):
    """SparseTensor [B, 1] (a column that may be missing) -> dense [B], '' or 0 filled."""
    if isinstance(x, tf.sparse.SparseTensor):
        default = "" if x.dtype == tf.string else tf.zeros([], x.dtype)
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default
        )
    return tf.reshape(x, [-1])


def _feature(x, feature: Feature):
    if feature.kind == FeatureKind.NUMERIC:
        return tft.scale_to_z_score(tf.cast(x, tf.float32))
    if feature.kind == FeatureKind.BUCKETIZED:
        return tft.bucketize(tf.cast(x, tf.float32), feature.buckets)
    if feature.kind == FeatureKind.IDENTITY:
        ids = tf.cast(x, tf.int64)
        size = feature.buckets
        ids = tf.where((ids >= 0) & (ids < size), ids, tf.constant(size, tf.int64))
        # The same ids, through apply_buckets so the transform declares their range
        # (0..size), as vocabularies and buckets do: the trainers read it from there.
        edges = tf.constant([[i + 0.5 for i in range(size)]], tf.float32)
        return tft.apply_buckets(tf.cast(ids, tf.float32), edges)
    strings = x if x.dtype == tf.string else tf.strings.as_string(x)
    return tft.compute_and_apply_vocabulary(
        strings, top_k=feature.top_k, num_oov_buckets=1, vocab_filename=feature.name
    )


def _label(inputs: dict, label: Label, task: str):
    if task == "regression":  # the value to predict, as it is
        return tf.cast(fill_in_missing(inputs[label.column]), tf.float32)
    if label.column:
        x = fill_in_missing(inputs[label.column])
        if label.classes:
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(label.classes)), tf.range(len(label.classes), dtype=tf.int64)
                ),
                default_value=-1,
            )
            return table.lookup(x if x.dtype == tf.string else tf.strings.as_string(x))
        return tf.cast(x, tf.int64)
    rule = parse_rule(label.derive)
    left = tf.cast(fill_in_missing(inputs[rule["column"]]), tf.float32)
    other = rule["other"]
    right = (
        tf.cast(fill_in_missing(inputs[other]), tf.float32)
        if other in inputs
        else tf.constant(float(other))
    )
    return tf.cast(_OPS[rule["op"]](left, right * rule["scale"]), tf.int64)


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """tf.Transform entry point: raw columns -> transformed features + label.
    custom_config is PipelineConfig.transform_config as JSON (task, label, features)."""
    config = from_json(TransformConfig, custom_config)
    outputs = {
        transformed_name(f.name): _feature(fill_in_missing(inputs[f.name]), f)
        for f in config.features
    }
    outputs[LABEL_KEY] = _label(inputs, config.label, config.task)
    return outputs
