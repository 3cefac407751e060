"""Arrow columns -> serialized tf.Examples, a column at a time in numpy and pyarrow: the
bytes of `SerializeToString(deterministic=True)` (features in key order).

Why not tfx_bsl's RecordBatchToExamplesEncoder, which ExampleGen and Transform used:
it builds each row's Example as a C++ message and orders its features by a hash map,
so its bytes are neither deterministic nor the deterministic serialization that TFX's
CsvExampleGen hashes into splits; and on the taxi rows it took ~7 µs a row (1 s of
ExampleGen's 3.6 s at 150k rows). Here each feature's part of every row is built as a
column (its varint lengths, its key, its values' bytes), and pyarrow joins the parts of
each row in C++ (bench/README.md has the figures).

The same conventions as tfx_bsl's encoder: a ListArray or LargeListArray column of
int64, float32 or bytes/strings; a null row is a feature with no kind, an empty list a
feature of the column's kind with no values. tests/test_example_encoding.py holds both
to the protobuf serialization.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT64_LIST, _FLOAT_LIST, _BYTES_LIST = 0x1A, 0x12, 0x0A  # Feature's oneof: field 3, 2, 1
_FIELD_1, _FIELD_2 = 0x0A, 0x12  # the tags of fields 1 and 2, length-delimited
_VARINT_LIMITS = np.array([1 << bits for bits in range(7, 64, 7)], np.uint64)  # 2 bytes from 2**7...


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes of each value's varint (values as uint64: a negative int64 takes 10)."""
    return np.searchsorted(_VARINT_LIMITS, values.astype(np.uint64, copy=False), side="right") + 1


def fields(rows: int, parts: list) -> pa.LargeBinaryArray:
    """Per row, the parts one after the other, written by numpy into one buffer: a part
    is (an int array: each row's varint, or an int: one byte; a mask or None), and a row
    leaves a part out where its mask is False."""
    sizes = []
    for value, where in parts:
        size = varint_sizes(value) if isinstance(value, np.ndarray) else np.ones(rows, np.int64)
        sizes.append(size if where is None else np.where(where, size, 0))
    offsets = np.concatenate([[0], np.cumsum(np.sum(sizes, axis=0, dtype=np.int64))])
    out = np.empty(int(offsets[-1]), np.uint8)
    cursor = offsets[:-1].copy()
    for (value, where), size in zip(parts, sizes):
        if isinstance(value, np.ndarray):
            _write_varints(out, cursor, value.astype(np.uint64, copy=False), size)
        else:
            out[cursor if where is None else cursor[where]] = value
        cursor += size
    return _binary(offsets, out)


def _write_varints(out: np.ndarray, starts: np.ndarray, values: np.ndarray, sizes: np.ndarray) -> None:
    """out[starts[i]:starts[i] + sizes[i]] = the varint of values[i], 7 bits a byte."""
    for i in range(int(sizes.max(initial=0))):
        has = sizes > i
        byte = (values[has] >> np.uint64(7 * i)) & np.uint64(0x7F)
        more = (sizes[has] > i + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + i] = (byte | more).astype(np.uint8)


def varints(values: np.ndarray) -> pa.LargeBinaryArray:
    """Each value's varint, one element each."""
    return fields(len(values), [(values, None)])


def _binary(offsets: np.ndarray, data: np.ndarray) -> pa.LargeBinaryArray:
    """A LargeBinaryArray over numpy buffers: element i is data[offsets[i]:offsets[i + 1]]."""
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1,
        [None, pa.py_buffer(np.ascontiguousarray(offsets, np.int64)), pa.py_buffer(data)])


def _offsets(array: pa.LargeBinaryArray) -> np.ndarray:
    return np.frombuffer(array.buffers()[1], np.int64, len(array) + 1, array.offset * 8)


def _data(array: pa.LargeBinaryArray) -> np.ndarray:
    data = array.buffers()[2]
    return np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)


def _join(*parts) -> pa.LargeBinaryArray:
    """Row by row, the parts' bytes one after the other (a bytes part repeats)."""
    parts = [pa.scalar(p, pa.large_binary()) if isinstance(p, bytes) else p for p in parts]
    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))


def encodes(schema: pa.Schema) -> bool:
    """Whether every column is a list of int64, float32 or bytes (not nested lists, which
    tfx_bsl's encoder takes with a schema as ragged features)."""
    try:
        for field in schema:
            _list_kind(field.name, field.type)
    except TypeError:
        return False
    return True


def _list_kind(name: str, column_type: pa.DataType) -> int:
    if not (pa.types.is_list(column_type) or pa.types.is_large_list(column_type)):
        raise TypeError(f"feature {name!r}: a tf.Example column is a list array, not {column_type}")
    value_type = column_type.value_type
    if pa.types.is_int64(value_type):
        return _INT64_LIST
    if pa.types.is_float32(value_type):
        return _FLOAT_LIST
    if pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type) or \
            pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return _BYTES_LIST
    raise TypeError(f"feature {name!r}: a tf.Example feature holds int64, float32 or bytes, "
                    f"not {value_type}")


def _value_bytes(values: pa.Array, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """The values' wire bytes (varints, little-endian floats, or each bytes value with
    its tag and length) -> (data, where each value starts in it, and the end)."""
    if kind == _BYTES_LIST:
        values = pc.cast(values, pa.large_binary())
        tagged = _join(fields(len(values), [(_FIELD_1, None), (np.diff(_offsets(values)), None)]), values)
        return _data(tagged), _offsets(tagged)
    if kind == _FLOAT_LIST:
        data = np.asarray(values.to_numpy(zero_copy_only=False), np.float32)
        return data.view(np.uint8), np.arange(len(data) + 1, dtype=np.int64) * 4
    encoded = varints(np.asarray(values.to_numpy(zero_copy_only=False), np.int64))
    return _data(encoded), _offsets(encoded)


def feature_entries(name: str, column: pa.Array) -> pa.LargeBinaryArray:
    """One feature of every row as its Features map entry: tag 1, length, the key
    (tag 1), the Feature (tag 2: its kind's tag, length, then the list: a packed list
    as tag 1, length, values; a bytes list as each value tagged)."""
    kind = _list_kind(name, column.type)
    list_offsets = np.asarray(column.offsets.to_numpy(), np.int64)
    values = column.values[list_offsets[0]:list_offsets[-1]]
    if values.null_count:
        raise TypeError(f"feature {name!r}: a tf.Example list holds no nulls")
    data, value_offsets = _value_bytes(values, kind)
    row_offsets = value_offsets[list_offsets - list_offsets[0]]
    payload = _binary(row_offsets - row_offsets[0], data[row_offsets[0]:row_offsets[-1]])
    present = column.is_valid().to_numpy(zero_copy_only=False)  # a null: Feature{}
    payload_size = np.where(present, np.diff(row_offsets), 0)
    packed = present & (np.diff(list_offsets) > 0) & (kind != _BYTES_LIST)
    list_size = np.where(packed, 1 + varint_sizes(payload_size) + payload_size, payload_size)
    feature_size = np.where(present, 1 + varint_sizes(list_size) + list_size, 0)
    key = name.encode()
    key_field = bytes([_FIELD_1]) + varint_bytes(len(key)) + key
    entry_size = len(key_field) + 1 + varint_sizes(feature_size) + feature_size
    if not present.all():
        payload = pc.if_else(pa.array(present), payload, pa.scalar(b"", pa.large_binary()))
    rows = len(column)
    return _join(fields(rows, [(_FIELD_1, None), (entry_size, None)]),
                 key_field + bytes([_FIELD_2]),
                 fields(rows, [(feature_size, None), (kind, present), (list_size, present),
                               (_FIELD_1, packed), (payload_size, packed)]),
                 payload)


def varint_bytes(value: int) -> bytes:
    return varints(np.array([value], np.uint64))[0].as_py()


def encode(batch: pa.RecordBatch) -> pa.LargeBinaryArray:
    """Each row of the batch as a serialized tf.Example, its features in key order."""
    entries = [feature_entries(name, batch.column(batch.schema.get_field_index(name)))
               for name in sorted(batch.schema.names, key=str.encode)]
    features = _join(*entries) if entries else pa.array([b""] * batch.num_rows, pa.large_binary())
    header = fields(batch.num_rows, [(_FIELD_1, None), (np.diff(_offsets(features)), None)])
    return _join(header, features)
