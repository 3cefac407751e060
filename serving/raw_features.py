"""Raw feature rows -> the tensors the TFT transform graph expects.

Serving takes raw features as JSON-like rows, where a missing value is None. The
transform graph expects what ExampleGen produced from the CSV: a SparseTensor for a
column that may be missing (missing = no value), a dense tensor otherwise. Keras'
serving signature and the PyTorch loader share this code, so both frameworks see
exactly the inputs training saw.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def is_string(spec) -> bool:
    return spec.dtype == tf.string


def signature_spec(raw_feature_spec: dict, names) -> dict[str, tf.TensorSpec]:
    """One [batch] tensor per raw feature: strings as tf.string, numbers as float64
    with NaN for missing (the form JSON clients can send)."""
    return {
        n: tf.TensorSpec([None], tf.string if is_string(raw_feature_spec[n]) else tf.float64, n)
        for n in names
    }


def to_arrays(rows: dict[str, list], raw_feature_spec: dict) -> dict[str, np.ndarray]:
    """Columns of Python values (None = missing) -> arrays matching signature_spec."""
    out = {}
    for name, values in rows.items():
        if is_string(raw_feature_spec[name]):
            out[name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
        else:
            out[name] = np.array([np.nan if v is None else v for v in values], np.float64)
    return out


def to_tensors(columns: dict[str, list], raw_feature_spec: dict) -> dict[str, tf.Tensor]:
    """Columns of Python values (None = missing) -> the signature's input tensors."""
    return {n: tf.constant(a.tolist() if a.dtype == object else a)
            for n, a in to_arrays(columns, raw_feature_spec).items()}


def to_transform_inputs(raw: dict[str, tf.Tensor], raw_feature_spec: dict) -> dict:
    """Signature tensors -> transform inputs (sparse where the column may be missing)."""
    out = {}
    for name, tensor in raw.items():
        spec = raw_feature_spec[name]
        present = tf.not_equal(tensor, "") if is_string(spec) else ~tf.math.is_nan(tensor)
        values = tensor if is_string(spec) else tf.cast(tensor, spec.dtype)
        if isinstance(spec, tf.io.VarLenFeature):
            rows = tf.cast(tf.where(present)[:, 0], tf.int64)
            out[name] = tf.SparseTensor(
                indices=tf.stack([rows, tf.zeros_like(rows)], 1),
                values=tf.boolean_mask(values, present),
                dense_shape=tf.stack([tf.shape(tensor, out_type=tf.int64)[0], 1]),
            )
        else:
            out[name] = tf.reshape(values, [-1, 1]) if list(spec.shape) == [1] else values
    return out
