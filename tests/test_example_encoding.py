"""components.executors.example_encoding writes the bytes protobuf's deterministic serialization
writes, for every kind of column tfx_bsl's encoder takes, and the same Examples as that
encoder."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from components.executors import example_encoding

pytestmark = pytest.mark.unit

INTS = [0, 1, -1, 127, 128, 16383, 16384, 2**40, -(2**63), 2**63 - 1]
FLOATS = [0.0, -0.0, 1.5, -2.25e-30, 3.4e38, float("inf"), float("-inf")]
BYTES_SIZES = [0, 1, 127, 128, 16384]  # lengths whose varints take 1, 1, 1, 2 and 3 bytes


def random_rows(kind: str, rows: int, rng) -> list:
    """None (no kind), [] (no values) and lists of one to three values."""
    out = []
    for _ in range(rows):
        pick = rng.random()
        if pick < 0.15:
            out.append(None)
            continue
        count = 0 if pick < 0.3 else int(rng.integers(1, 4))
        if kind == "int":
            out.append([int(v) for v in rng.choice(INTS, count)])
        elif kind == "float":
            out.append([float(v) for v in rng.choice(FLOATS, count)])
        else:
            out.append([bytes(rng.integers(0, 256, int(rng.choice(BYTES_SIZES)), dtype=np.uint8))
                        for _ in range(count)])
    return out


def expected(columns: dict[str, tuple[str, list]], row: int) -> bytes:
    import tensorflow as tf

    example = tf.train.Example(features=tf.train.Features())
    for name, (kind, rows) in columns.items():
        feature = example.features.feature[name]
        values = rows[row]
        if values is None:
            continue  # the key with an empty Feature
        field = {"int": feature.int64_list, "float": feature.float_list, "bytes": feature.bytes_list}[kind]
        field.SetInParent()
        field.value.extend(values)
    return example.SerializeToString(deterministic=True)


ARROW = {"int": pa.int64(), "float": pa.float32(), "bytes": pa.binary()}


def batch_of(columns, list_type=pa.large_list, string_column: str | None = None) -> pa.RecordBatch:
    arrays = []
    for name, (kind, rows) in columns.items():
        value_type = pa.string() if name == string_column else ARROW[kind]
        if name == string_column:
            rows = [None if r is None else [v.decode("latin-1") for v in r] for r in rows]
        arrays.append(pa.array(rows, list_type(value_type)))
    return pa.RecordBatch.from_arrays(arrays, list(columns))


def test_each_row_is_the_deterministic_serialization_of_its_example():
    rng = np.random.default_rng(7)
    rows = 400
    # keys out of order, non-ASCII, and long enough for a 2-byte length
    columns = {"b": ("int", random_rows("int", rows, rng)),
               "a": ("float", random_rows("float", rows, rng)),
               "ü": ("bytes", random_rows("bytes", rows, rng)),
               "z" * 140: ("int", random_rows("int", rows, rng)),
               "A": ("float", random_rows("float", rows, rng))}
    for list_type in (pa.list_, pa.large_list):
        ours = example_encoding.encode(batch_of(columns, list_type)).to_pylist()
        assert ours == [expected(columns, i) for i in range(rows)], list_type


def test_strings_slices_and_empty_batches():
    rng = np.random.default_rng(8)
    columns = {"text": ("bytes", random_rows("bytes", 60, rng)),
               "n": ("int", random_rows("int", 60, rng))}
    # a string column, as latin-1 text: its UTF-8 bytes are what the Example holds
    text = batch_of(columns, pa.list_, string_column="text")
    as_utf8 = {"text": ("bytes", [None if r is None else [v.decode("latin-1").encode() for v in r]
                                  for r in columns["text"][1]]), "n": columns["n"]}
    whole = example_encoding.encode(text).to_pylist()
    assert whole == [expected(as_utf8, i) for i in range(60)]
    assert example_encoding.encode(text.slice(13, 20)).to_pylist() == whole[13:33]
    assert example_encoding.encode(text.slice(0, 0)).to_pylist() == []
    assert example_encoding.encode(pa.RecordBatch.from_arrays([], [])).to_pylist() == []


def test_the_same_examples_as_tfx_bsl_encoder():
    import tensorflow as tf
    from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

    rng = np.random.default_rng(9)
    columns = {name: (kind, random_rows(kind, 200, rng))
               for name, kind in [("i", "int"), ("f", "float"), ("s", "bytes")]}
    batch = batch_of(columns)
    ours = [tf.train.Example.FromString(r) for r in example_encoding.encode(batch).to_pylist()]
    theirs = [tf.train.Example.FromString(r) for r in RecordBatchToExamplesEncoder().encode(batch)]
    assert ours == theirs


@pytest.mark.parametrize("column", [
    pa.array([1, 2], pa.int64()),  # not a list
    pa.array([[1.5]], pa.list_(pa.float64())),  # a kind tf.Example does not hold
    pa.array([[[1]]], pa.list_(pa.list_(pa.int64()))),  # nested: ragged, needs a schema
])
def test_columns_a_tf_example_cannot_hold_are_refused_by_name(column):
    batch = pa.RecordBatch.from_arrays([column], ["odd"])
    assert not example_encoding.encodes(batch.schema)
    with pytest.raises(TypeError, match="'odd'"):
        example_encoding.encode(batch)
