"""Reading TFRecord files of tf.Examples into Arrow batches a file at a time, in
Beam: the source of the bulk StatisticsGen and of the bulk Transform's analysis.

TFX's own source (tfx_bsl's TFXIO BeamSource) makes each record a Beam element: a
Python TFRecord reader with a Python checksum per record, then Beam batching them again
for the C++ decoder. On the 670k-row taxi train split Beam's reader alone took ~19% of
TFT's analysis (py-spy), the per-element handling more. Here the element is one file:
TensorFlow's C++ reader reads it in batches and tfx_bsl's C++ decoder (the one TFX's
source uses) turns each batch into an Arrow RecordBatch. It stays Beam, so on a cluster
the files spread over the workers.
"""
from __future__ import annotations

from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from tfx_bsl.tfxio import record_based_tfxio
from tfx_bsl.tfxio.tf_example_record import TFExampleRecord

from components.artifacts import tfx_layout

ROWS_PER_BATCH = 8192  # per Arrow batch: ~1 MB of taxi rows


def record_batches(path: str, rows_per_batch: int = ROWS_PER_BATCH, schema: bytes | None = None,
                   raw_record_column: str | None = None) -> Iterator[pa.RecordBatch]:
    """One TFRecord file of tf.Examples (gzipped if its name ends in .gz, as Beam's
    reader decides) -> Arrow RecordBatches of rows_per_batch, decoded with the serialized
    schema if given (else the types are inferred, as TFX's StatisticsGen does), with the
    serialized records as one more column if named."""
    import tensorflow as tf
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    decoder = ExamplesToRecordBatchDecoder(schema) if schema else ExamplesToRecordBatchDecoder()
    compression = tfx_layout.compression_of(path)
    dataset = tf.data.TFRecordDataset(path, compression_type=compression).batch(rows_per_batch)
    for records in dataset.as_numpy_iterator():  # an array of bytes: no list copy
        batch = decoder.DecodeBatch(records)
        yield (record_based_tfxio.AppendRawRecordColumn(batch, raw_record_column, list(records))
               if raw_record_column else batch)


def matching_files(patterns: list[str]) -> list[str]:
    """The files of every glob pattern, each pattern's in name order."""
    from tfx.dsl.io import fileio

    return [path for pattern in patterns for path in sorted(fileio.glob(pattern))]


class FileAtATimeTFExampleRecord(TFExampleRecord):
    """tfx_bsl's TFXIO for TFRecord files of tf.Examples, with a Beam source that reads a file
    at a time (record_batches) instead of a record at a time. The same RecordBatches:
    the same decoder and schema; only their sizes differ (ROWS_PER_BATCH, or the batch
    size asked for)."""

    def BeamSource(self, batch_size: int | None = None) -> beam.PTransform:
        schema = self._GetSchemaForDecoding()
        serialized = schema.SerializeToString() if schema is not None else None
        files = matching_files(self._file_pattern)
        rows = batch_size or ROWS_PER_BATCH
        raw_column = self.raw_record_column_name

        @beam.ptransform_fn
        def read(pipeline_or_pcoll):
            pipeline = getattr(pipeline_or_pcoll, "pipeline", pipeline_or_pcoll)
            return (pipeline
                    | "Files" >> beam.Create(files)
                    | "ReadAndDecode" >> beam.FlatMap(record_batches, rows, serialized, raw_column))

        return read()

    def _ProjectImpl(self, tensor_names: list[str]) -> FileAtATimeTFExampleRecord:
        from tfx_bsl.tfxio import tensor_representation_util

        return FileAtATimeTFExampleRecord(  # as TFExampleRecord projects, keeping the class
            file_pattern=self._file_pattern,
            schema=tensor_representation_util.ProjectTensorRepresentationsInSchema(
                self._schema, tensor_names),
            raw_record_column_name=self.raw_record_column_name,
            telemetry_descriptors=self.telemetry_descriptors)
