"""CSV bytes -> an Arrow table of the columns a model reads (and those the user keeps),
parsed in C++ by pyarrow with the types the model expects: a raw feature the model
reads as a number is float64 (empty = null, served as missing), one it reads as text
stays text ("" = missing, as the server reads it), and a kept column is kept as written
(an id with leading zeros stays as it is). The scoring pre-flight reads the whole input
this way once, so a worker never meets a value it cannot convert."""
from __future__ import annotations

import io

import pyarrow as pa
from pyarrow import csv


def column_types(raw_features: dict[str, str], keep: tuple[str, ...]) -> dict[str, pa.DataType]:
    """raw_features: name -> "number" | "string" (a model's layout.raw_features)."""
    types = {name: pa.string() for name in keep}
    types.update({name: pa.float64() if kind == "number" else pa.string()
                  for name, kind in raw_features.items()})
    return types


def convert_options(types: dict[str, pa.DataType]) -> csv.ConvertOptions:
    return csv.ConvertOptions(column_types=types, include_columns=list(types),
                              null_values=[""], strings_can_be_null=False,
                              quoted_strings_can_be_null=False)


def read_options(header: tuple[str, ...] | None, use_threads: bool = True) -> csv.ReadOptions:
    """header None: the data starts with its header line; else the names of headerless
    bytes (a byte range of a file)."""
    if header is None:
        return csv.ReadOptions(use_threads=use_threads, block_size=1 << 22)
    return csv.ReadOptions(column_names=list(header), use_threads=use_threads, block_size=1 << 22)


def read(data: bytes, header: tuple[str, ...], types: dict[str, pa.DataType]) -> pa.Table:
    """Headerless CSV bytes -> a table of the typed columns."""
    return csv.read_csv(io.BytesIO(data), read_options=read_options(header),
                        convert_options=convert_options(types))


def model_columns(table: pa.Table, raw_features: dict[str, str]) -> dict:
    """The table's feature columns as ServableModel.predict takes them: numbers as
    float64 arrays (NaN = missing), text as arrays of str ("" = missing)."""
    import numpy as np

    columns = {}
    for name, kind in raw_features.items():
        column = table.column(name)
        if kind == "number":
            columns[name] = column.to_numpy().astype(np.float64, copy=False)  # null -> NaN
        else:
            columns[name] = column.to_numpy().tolist()
    return columns
