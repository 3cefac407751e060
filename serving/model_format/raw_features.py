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
    return {name: np.array(_strings(values), dtype=object) if is_string(raw_feature_spec[name])
            else np.array(values, np.float64)  # None -> NaN
            for name, values in rows.items()}


def _strings(values: list) -> list[str]:
    """String feature values with "" for missing, as the transform graph reads them."""
    return ["" if v is None else str(v) for v in values]


def to_tensors(columns: dict[str, list], raw_feature_spec: dict) -> dict[str, tf.Tensor]:
    """Columns of Python values (None = missing) -> the signature's input tensors."""
    return {n: tf.constant(a.tolist() if a.dtype == object else a)
            for n, a in to_arrays(columns, raw_feature_spec).items()}


class PackedColumns:
    """All raw columns as two tensors: numbers [numeric features, rows] float64 (NaN =
    missing) and strings [string features, rows] ("" = missing), split back into
    columns inside the graph. Each eager tensor costs ~30-50 us to make on these
    machines, so one per feature (14 for the taxi model) was half of a one-row
    prediction; two cost ~80 us whatever the feature count."""

    def __init__(self, raw_feature_spec: dict, names):
        self.strings = [n for n in names if is_string(raw_feature_spec[n])]
        self.numbers = [n for n in names if not is_string(raw_feature_spec[n])]

    def spec(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([len(self.numbers), None], tf.float64, "numbers"),
                tf.TensorSpec([len(self.strings), None], tf.string, "strings")]

    def tensors(self, columns: dict[str, list]) -> list[tf.Tensor]:
        """Columns of Python values (None = missing) -> the two input tensors."""
        rows = len(columns[(self.numbers or self.strings)[0]])
        numbers = np.array([columns[n] for n in self.numbers], np.float64).reshape(-1, rows)  # None -> NaN
        strings = [_strings(columns[n]) for n in self.strings]
        return [tf.constant(numbers), tf.constant(strings or np.zeros((0, rows), object), tf.string)]

    def unpack(self, numbers: tf.Tensor, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        """(In a graph) the two tensors -> one [rows] tensor per column, as signature_spec."""
        columns = dict(zip(self.numbers, tf.unstack(numbers, len(self.numbers))))
        columns.update(zip(self.strings, tf.unstack(strings, len(self.strings))))
        return columns


def to_transform_inputs(raw: dict[str, tf.Tensor], raw_feature_spec: dict) -> dict:
    """Signature tensors -> transform inputs (sparse where the column may be missing).

    Written for few graph ops, since serving pays ~1 us per op per call whatever the batch
    size: tf.boolean_mask and stacked indices took ~45 ops per optional column where
    Where, Pad and GatherNd take 3. For the taxi features: 147 ops instead of 527, and 401
    instead of 534 run per Keras prediction after TF's graph optimizer."""
    dense_shape = tf.concat([tf.shape(next(iter(raw.values())), out_type=tf.int64), [1]], 0)  # [rows, 1]
    out = {}
    for name, tensor in raw.items():
        spec = raw_feature_spec[name]
        values = tensor if is_string(spec) else tf.cast(tensor, spec.dtype)
        if isinstance(spec, tf.io.VarLenFeature):
            present = tf.not_equal(tensor, "") if is_string(spec) else ~tf.math.is_nan(tensor)
            rows = tf.where(present)  # [present, 1] int64
            out[name] = tf.SparseTensor(
                indices=tf.pad(rows, [[0, 0], [0, 1]]),  # [row, 0]
                values=tf.gather_nd(values, rows),
                dense_shape=dense_shape,
            )
        else:
            out[name] = tf.reshape(values, [-1, 1]) if list(spec.shape) == [1] else values
    return out
