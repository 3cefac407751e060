"""CsvExampleGen with a columnar reader: the same tf.Examples, in the same splits, in
a fraction of the time (bench/csv_example_gen.py).

TFX's CSV executor parses each line with Python's csv module and builds each
tf.train.Example in Python, then partitions, reshuffles and writes them one by one:
one core at ~5,000 rows/s, 200 s of a 1M-row run here. This one stays Beam (so it runs
on any runner) but every step works on a block of rows: pyarrow reads a block of a
file, the column types are inferred per block with TFX's rules and combined over all
blocks (a first pass over the files), then components.executors.example_encoding serializes the
block's rows a column at a time, and each block's records are written to their splits'
files (a second pass, so memory holds a block, not the file).

What is the same as CsvExampleGen (tests/test_csv_examples.py runs both on the same
files):
- the types: INT where every non-empty cell is an int64 by Python's int(), FLOAT where
  float() reads it, STRING otherwise; an empty cell is a feature with no values, and a
  column empty everywhere is a feature with no kind;
- each record is exactly the bytes of `SerializeToString(deterministic=True)` of the
  Example CsvExampleGen makes (its own files hold the same fields in column order);
- each record's split: TFX hashes that same serialization into the hash buckets.

What differs: TFX's writer reshuffles the records (its code says "make shuffle
optional"), so its files hold them in an order that changes from run to run; here a
split's files hold them in the order of the CSV, one file per block, which makes the
steps after it (TFT's quantiles among them) see the same order on every run.
"""
from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
from typing import Any, Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
from pyarrow import csv as pa_csv
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.csv_example_gen.component import CsvExampleGen
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils
from tfx_bsl.coders import csv_decoder

from components.artifacts import tfx_layout
from components.executors import example_encoding, preflight

ColumnType = csv_decoder.ColumnType
BLOCK_BYTES = 8 << 20  # CSV bytes per block: one Beam element
COLUMN_TYPES_FILE = ".column_types.json"  # between the two pipelines; removed after
_PLAIN_INT = r"^-?[0-9]{1,18}$"  # int() reads these, within int64 (RE2, as pyarrow runs it)
# float() reads these and int() does not (a point or an exponent); digits alone that
# _PLAIN_INT refused may be over int64 (a STRING then), so they go to TFX's rule
_PLAIN_FLOAT = r"^-?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$"


def read_blocks(numbered_file: tuple[int, str], column_names: list[str]
                ) -> Iterable[tuple[str, pa.RecordBatch]]:
    """A CSV file (its header skipped) as numbered blocks of string columns, cells as
    written -> (block id "<file>-<block>", block)."""
    number, path = numbered_file
    with beam.io.filesystems.FileSystems.open(path) as f:  # local, gs://, ... as TFX's reads
        reader = pa_csv.open_csv(
            f,
            read_options=pa_csv.ReadOptions(column_names=column_names, skip_rows=1,
                                            block_size=BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in column_names},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        for i, block in enumerate(reader):
            yield f"{number:05d}-{i:05d}", block


INT64 = (-(2**63), 2**63 - 1)


def value_type(cell: str) -> ColumnType:
    """TFX's rule for one cell (tfx_bsl csv_decoder's private _InferValueType, restated;
    tests/test_csv_examples.py holds both executors to the same types)."""
    if not cell:
        return ColumnType.UNKNOWN
    raw = cell.encode()  # as TFX sees it: int(b"\xd9\xa3") fails where int("\u0663") is 3
    try:
        return ColumnType.INT if INT64[0] <= int(raw) <= INT64[1] else ColumnType.STRING
    except ValueError:
        try:
            float(raw)
        except ValueError:
            return ColumnType.STRING
        return ColumnType.FLOAT


def column_type(cells: pa.Array) -> ColumnType:
    """The widest type of a column's cells (UNKNOWN < INT < FLOAT < STRING). Cells the
    patterns settle are judged at C++ speed; the rest (" 7", "1_000", "inf", text) one
    distinct value at a time by TFX's own rule, stopping at the first STRING."""
    import pyarrow.compute as pc

    filled = pc.filter(cells, pc.not_equal(cells, ""))
    if len(filled) == 0:
        return ColumnType.UNKNOWN
    is_int = pc.match_substring_regex(filled, _PLAIN_INT)
    widest = ColumnType.INT if pc.any(is_int).as_py() else ColumnType.UNKNOWN
    rest = pc.filter(filled, pc.invert(is_int))
    if len(rest):
        is_float = pc.match_substring_regex(rest, _PLAIN_FLOAT)
        if pc.any(is_float).as_py():
            widest = max(widest, ColumnType.FLOAT)
        for cell in pc.unique(pc.filter(rest, pc.invert(is_float))).to_pylist():
            widest = max(widest, value_type(cell))
            if widest == ColumnType.STRING:
                break
    return widest


def block_types(numbered: tuple[str, pa.RecordBatch]) -> dict[str, ColumnType]:
    _, block = numbered
    return {name: column_type(block.column(name)) for name in block.schema.names}


class WidestTypes(beam.CombineFn):
    """Column name -> the widest type over every block (TFX's ColumnTypeInferrer, by block)."""

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, widest: dict, types: dict) -> dict:
        for name, found in types.items():
            widest[name] = max(widest.get(name, found), found)
        return widest

    def merge_accumulators(self, accumulators) -> dict:
        merged: dict = {}
        for one in accumulators:
            self.add_input(merged, one)
        return merged

    def extract_output(self, widest: dict) -> dict:
        return widest


def typed_column(cells: pa.Array, kind: ColumnType) -> pa.Array:
    """String cells -> a list column for the encoder: [] for an empty cell, null (a
    feature with no kind) for a column with no values at all."""
    import pyarrow.compute as pc

    if kind == ColumnType.UNKNOWN:
        return pa.nulls(len(cells), pa.list_(pa.int64()))
    empty = pc.equal(cells, "")
    if kind == ColumnType.STRING:
        values = pc.cast(pc.filter(cells, pc.invert(empty)), pa.binary())
    else:
        filled = pc.filter(cells, pc.invert(empty))
        values = cast_like_python(filled, kind)
    lengths = np.where(empty.to_numpy(zero_copy_only=False), 0, 1).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def cast_like_python(cells: pa.Array, kind: ColumnType) -> pa.Array:
    """INT cells -> int64 as int() reads them; FLOAT cells -> float() rounded to float32,
    as tf.train.FloatList stores it. pyarrow parses plain numbers (correctly rounded, as
    Python does); anything it refuses (" 7", "1_000") goes through Python."""
    import pyarrow.compute as pc

    python = int if kind == ColumnType.INT else float
    target = pa.int64() if kind == ColumnType.INT else pa.float64()
    try:
        values = pc.cast(cells, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = pa.array([python(c) for c in cells.to_pylist()], target)
    return values if kind == ColumnType.INT else pc.cast(values, pa.float32())


def serialized_examples(block: pa.RecordBatch, types: dict[str, ColumnType]) -> list[bytes]:
    """The block's rows as serialized tf.Examples, features in key order (the
    deterministic serialization)."""
    columns = [typed_column(block.column(name), types[name]) for name in block.schema.names]
    return example_encoding.encode(pa.RecordBatch.from_arrays(columns, block.schema.names)).to_pylist()


def csv_files(exec_properties: dict[str, Any], split_pattern: str) -> tuple[list[str], list[str]]:
    """The CSV files of one input split, numbered in name order, and their header."""
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    names = io_utils.load_csv_column_names(files[0])
    for other in files[1:]:
        if io_utils.load_csv_column_names(other) != names:
            raise RuntimeError(f"Files in same split {pattern} have different header.")
    return files, names


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def CsvBlocks(pipeline, files: list[str], names: list[str]):
    """Beam: CSV files -> (block id, Arrow block), each file's blocks in its order."""
    return (pipeline
            | "Files" >> beam.Create(list(enumerate(files)))
            | "ReadBlocks" >> beam.FlatMap(read_blocks, names))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def CsvColumnTypes(pipeline, files: list[str], names: list[str]):
    """Beam: CSV files -> one element, {column: its widest type over every block}."""
    return (pipeline
            | "Blocks" >> CsvBlocks(files, names)
            | "BlockTypes" >> beam.Map(block_types)
            | "WidestTypes" >> beam.CombineGlobally(WidestTypes()))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def CsvToExampleBlocks(pipeline, files: list[str], names: list[str], types):
    """Beam: CSV files -> (block id, serialized tf.Examples), given the column types (a
    dict, or the CsvColumnTypes side input)."""
    return (pipeline
            | "Blocks" >> CsvBlocks(files, names)
            | "Encode" >> beam.Map(lambda block, t: (block[0], serialized_examples(block[1], t)), types))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def CsvToSerializedExamples(pipeline, exec_properties: dict[str, Any], split_pattern: str):
    """Beam: the CSV files of one input split -> serialized tf.Examples, one by one (the
    input PTransform TFX's own ExampleGen machinery takes). One pipeline, so the types
    come as a side input, and the runner may hold every block until they are known."""
    files, names = csv_files(exec_properties, split_pattern)
    types = beam.pvalue.AsSingleton(pipeline | "Types" >> CsvColumnTypes(files, names))
    return (pipeline | "Blocks" >> CsvToExampleBlocks(files, names, types)
            | "Records" >> beam.FlatMap(lambda block: block[1]))


def write_types(types: dict, path: str) -> None:
    with fileio.open(path, "w") as f:
        f.write(json.dumps({name: int(kind) for name, kind in types.items()}))


def read_types(path: str) -> dict[str, ColumnType]:
    with fileio.open(path) as f:
        return {name: ColumnType(kind) for name, kind in json.loads(f.read()).items()}


def split_of(record: bytes, buckets: list[int]) -> int:
    """TFX's hash partition (base_example_gen_executor._PartitionFn without a partition
    feature): sha256 of the record's deterministic serialization, which the record is."""
    return bisect.bisect(buckets, int.from_bytes(hashlib.sha256(record).digest(), "big") % buckets[-1])


def write_block(block: tuple[str, list[bytes]], split_uris: list[str], buckets: list[int]) -> None:
    """One block's records into one gzipped TFRecord file per split. The name comes from
    the block, so a retried bundle rewrites the same file."""
    block_id, records = block
    by_split: list[list[bytes]] = [[] for _ in split_uris]
    for record in records:
        by_split[split_of(record, buckets)].append(record)
    for uri, split_records in zip(split_uris, by_split):
        with tfx_layout.records_writer(os.path.join(uri, f"data_tfrecord-{block_id}.gz")) as out:
            for record in split_records:
                out.write(record)


PREFLIGHT_KEY = "sluice_preflight"  # a compiled job's config: ExampleGen runs the pre-flight itself
DATA_FACTS = ("sluice_data_sha256", "sluice_data_rows", "sluice_data_columns")  # what it found


def data_checked(config_json: str, exec_properties: dict, split_pattern: str) -> dict[str, object]:
    """The pre-flight (components.executors.preflight) of the files this split reads,
    where no `sluice run` ran it first -> what it found, for the record."""
    from pathlib import Path

    from sluice_config.config import PipelineConfig

    config = PipelineConfig.from_custom_config(json.loads(config_json))
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = [Path(f) for f in sorted(fileio.glob(pattern))]
    return dict(zip(DATA_FACTS, preflight.check_files(config.replace(data=Path(pattern)), files)))


class Executor(BaseExampleGenExecutor):
    """BaseExampleGenExecutor's Do, with blocks from reading to writing (its own writes
    records one by one, through a reshuffle)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return CsvToSerializedExamples

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        exec_properties = dict(exec_properties)
        checked = exec_properties.pop(PREFLIGHT_KEY, "")
        input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        splits = output_config.split_config.splits
        if len(input_config.splits) != 1 or not splits or output_config.split_config.partition_feature_name:
            raise ValueError("The columnar CsvExampleGen takes one input split and output splits "
                             "by hash buckets (sluice's pipeline builds it so).")
        examples = output_dict[standard_component_specs.EXAMPLES_KEY]
        artifact_utils.get_single_instance(examples).split_names = artifact_utils.encode_split_names(
            [split.name for split in splits])
        split_uris = [artifact_utils.get_split_uri(examples, split.name) for split in splits]
        for uri in split_uris:
            fileio.makedirs(uri)
        buckets = list(itertools.accumulate(split.hash_buckets for split in splits))
        if checked:
            data = data_checked(checked, exec_properties, input_config.splits[0].pattern)
            for artifact in examples:
                for key, value in data.items():
                    artifact.set_string_custom_property(key, str(value))
        files, names = csv_files(exec_properties, input_config.splits[0].pattern)
        # Two pipelines, each reading the files: the types, then the records. With the
        # types as a side input in one pipeline, Beam's in_memory runner held every block
        # until the types were known (the whole CSV: 9.4 GB at 10M taxi rows).
        types_file = os.path.join(artifact_utils.get_single_uri(examples), COLUMN_TYPES_FILE)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline | "ColumnTypes" >> CsvColumnTypes(files, names)
                 | "WriteTypes" >> beam.Map(write_types, types_file))
        types = read_types(types_file)
        fileio.remove(types_file)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline
                 | "InputToRecord" >> CsvToExampleBlocks(files, names, types)
                 | "WriteSplits" >> beam.Map(write_block, split_uris, buckets))
        for artifact in examples:
            examples_utils.set_payload_format(artifact, exec_properties.get(
                standard_component_specs.OUTPUT_DATA_FORMAT_KEY, example_gen_pb2.FORMAT_TF_EXAMPLE))
            examples_utils.set_file_format(artifact, "tfrecords_gzip")


class ColumnarCsvExampleGen(CsvExampleGen):
    """TFX's CsvExampleGen (same driver, parameters and outputs) with the columnar executor."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
