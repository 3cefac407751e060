"""What `sluice predict` writes: per row, the columns the user keeps, the prediction
(the class name, or the value), each class's probability (p_<class>), and the model
name and version that answered; in CSV, Parquet or tf.Example TFRecords.

Workers write numbered part files; assemble() joins them in order into one file next
to the output and renames it into place, so a failed run leaves no partial output."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from serving.model_format.layout import FeatureLayout

FORMATS = {"csv": ".csv", "parquet": ".parquet", "tfrecord": ".tfrecord"}


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    for name, suffix in FORMATS.items():
        if path.name.endswith(suffix) or path.name.endswith(suffix + ".gz"):
            return name
    return "csv"


def prediction_table(table: pa.Table, answers: np.ndarray, layout: FeatureLayout,
                     keep: tuple[str, ...], model_name: str, version: str) -> pa.Table:
    rows = len(answers)
    columns = {name: table.column(name) for name in keep}
    if layout.regression:
        columns["prediction"] = pa.array(answers[:, 0].astype(np.float64))
    else:
        classes = np.array(layout.classes, dtype=object)
        columns["prediction"] = pa.array(classes[np.argmax(answers, axis=1)].tolist(), pa.string())
        for i, name in enumerate(layout.classes):
            columns[f"p_{name}"] = pa.array(answers[:, i].astype(np.float64))
    columns["model"] = pa.array([model_name] * rows, pa.string())
    columns["version"] = pa.array(np.full(rows, int(version), np.int64))
    return pa.table(columns)


def part_name(index: int, rows: int, fmt: str) -> str:
    return f"part-{index:08d}-{rows}{FORMATS[fmt]}"


def rows_in(parts_dir: Path) -> int:
    """Rows in the finished parts so far (their names say): the progress line's count."""
    return sum(int(p.name.split("-")[2].split(".")[0]) for p in parts_dir.glob("part-*")
               if not p.name.endswith(".tmp"))


def write_csv(table: pa.Table, path: Path) -> None:
    """Values as the input wrote them: "0", not '"0"'. Arrow (10) quotes every text
    value, so a table with text (the kept columns) is written by pandas, which quotes
    only where a value holds a comma, a quote or a line break."""
    if any(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in table.columns):
        table.to_pandas().to_csv(path, header=False, index=False, na_rep="")
    else:
        from pyarrow import csv

        csv.write_csv(table, path, csv.WriteOptions(include_header=False))


def write_part(table: pa.Table, path: Path, fmt: str) -> None:
    """Writes to a temporary name first: a part's name means it is complete."""
    partial = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        write_csv(table, partial)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, partial)
    else:
        import tensorflow as tf

        with tf.io.TFRecordWriter(str(partial)) as writer:
            for example in _examples(table):
                writer.write(example)
    os.replace(partial, path)


def assemble(parts_dir: Path, schema: pa.Schema, output: Path, fmt: str) -> None:
    parts = sorted(p for p in parts_dir.glob("part-*") if not p.name.endswith(".tmp"))
    joined = parts_dir / ("joined" + FORMATS[fmt])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(joined, schema) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part))
    else:
        with open(joined, "wb") as out:
            if fmt == "csv":
                out.write(",".join(_quoted(n) for n in schema.names).encode() + b"\n")
            for part in parts:
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
    output.parent.mkdir(parents=True, exist_ok=True)
    os.replace(joined, output)


def _quoted(name: str) -> str:
    return f'"{name}"' if any(c in name for c in ',"\n') else name


def _examples(table: pa.Table):
    """One serialized tf.Example per row (a missing value: the feature has no values)."""
    from tfx_bsl.coders import example_coder

    lists = []
    for column in table.columns:
        column = column.combine_chunks()
        if pa.types.is_floating(column.type):
            column = column.cast(pa.float32())
        elif pa.types.is_string(column.type):
            column = column.cast(pa.binary())
        valid = np.asarray(column.is_valid())
        offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
        lists.append(pa.ListArray.from_arrays(pa.array(offsets), column.drop_null()))
    batch = pa.RecordBatch.from_arrays(lists, names=table.column_names)
    yield from example_coder.RecordBatchToExamples(batch)
