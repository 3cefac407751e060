"""Raw feature columns -> the transform graph's inputs: an optional column becomes the
SparseTensor ExampleGen would have produced from the CSV (one value per present row,
none for a missing one); a required column stays dense."""
import numpy as np
import pytest
import tensorflow as tf

from serving.model_format import raw_features

pytestmark = pytest.mark.unit

SPEC = {"company": tf.io.VarLenFeature(tf.string), "trip_seconds": tf.io.VarLenFeature(tf.int64),
        "fare": tf.io.FixedLenFeature([1], tf.float32)}


def test_missing_values_are_absent_from_the_sparse_columns():
    columns = {"company": ["A", None, "C", None], "trip_seconds": [None, 60, 120, None],
               "fare": [1.5, 2.0, 3.25, 4.0]}
    inputs = raw_features.to_transform_inputs(raw_features.to_tensors(columns, SPEC), SPEC)

    company, seconds = inputs["company"], inputs["trip_seconds"]
    assert company.indices.numpy().tolist() == [[0, 0], [2, 0]]
    assert company.values.numpy().tolist() == [b"A", b"C"]
    assert seconds.indices.numpy().tolist() == [[1, 0], [2, 0]]
    assert seconds.values.dtype == tf.int64 and seconds.values.numpy().tolist() == [60, 120]
    for sparse in (company, seconds):
        assert sparse.dense_shape.numpy().tolist() == [4, 1]
    np.testing.assert_array_equal(inputs["fare"].numpy(), [[1.5], [2.0], [3.25], [4.0]])


def test_a_column_missing_in_every_row_is_an_empty_sparse_column():
    columns = {"company": [None, None], "trip_seconds": [None, None], "fare": [1.0, 2.0]}
    inputs = raw_features.to_transform_inputs(raw_features.to_tensors(columns, SPEC), SPEC)
    assert inputs["company"].indices.shape == (0, 2)
    assert inputs["company"].dense_shape.numpy().tolist() == [2, 1]
    assert tf.sparse.to_dense(inputs["trip_seconds"]).numpy().tolist() == [[0], [0]]
