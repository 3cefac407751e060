"""TFX's Transform with the transformed splits written a file at a time instead of a
record at a time: the same records, in a fraction of the time (bench/transform_step.py).

TFX's Transform runs two passes: the analysis (TFT's analyzers over the train split,
which write the transform graph) and the materialization (every split read again,
transformed and written). On 1M taxi rows the analysis took 40 s and the
materialization 93 s, most of it Beam handling each record as an element: reading it,
passing it between steps, encoding it, gzipping it in Python. Here TFX's own executor
runs the analysis, unchanged but for its source, which reads a file at a time
(components.executors.bulk_read), and the materialization is a Beam step whose element is
one input file: TensorFlow reads and parses it in batches (with the feature spec TFT
derives from the schema), the transform graph runs on each batch eagerly (as in TFT's
own step), components.executors.example_encoding serializes the outputs (tfx_bsl's C++ encoder,
which TFX uses, serializes ragged ones) and TensorFlow's writer gzips them. It stays
Beam, so on a cluster the files spread over the workers.

What is the same as TFX's Transform (tests/test_bulk_transform.py runs both on the same
examples): each split holds the same examples, but for z-scores that may differ in the
last bit of a float32 (the analysis sums means and variances over other batches);
vocabularies and quantile buckets are equal. The converter is the one TFX's executor
uses; its encoder orders a record's features by a hash map, so TFX's bytes of a record
differ between processes, where these hold the features in key order. What differs: TFX
writes a split's records in the order Beam's bundles finish; here each input file gives
one output file, in its order, so a rerun writes identical files.
"""
from __future__ import annotations

import contextlib
import os

import apache_beam as beam
from tfx.components.transform import executor as tfx_transform_executor
from tfx.components.transform import executor_utils
from tfx.components.transform.component import Transform
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx_bsl.tfxio.tf_example_record import TFExampleRecord

from components.artifacts import tfx_layout
from components.executors import example_encoding, user_code
from components.executors.bulk_read import ROWS_PER_BATCH, FileAtATimeTFExampleRecord

OUTPUT_PREFIX = "transformed_examples"  # TFX's file name prefix in each split


class TransformFiles(beam.DoFn):
    """(input file, output file) -> the input's examples transformed, in its order, in
    one gzipped TFRecord file. The output's name is fixed by the input, so a retried
    bundle rewrites the same file."""

    def __init__(self, graph_uri: str, rows_per_batch: int = ROWS_PER_BATCH):
        self._graph_uri = graph_uri
        self._rows_per_batch = rows_per_batch

    def setup(self):
        import tensorflow as tf
        import tensorflow_transform as tft
        from tensorflow_transform import impl_helper
        from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

        output = tft.TFTransformOutput(self._graph_uri)
        transform, spec = output.transform_features_layer(), output.raw_feature_spec()
        # eagerly, as TFT's own Beam step applies it: wrapped in a tf.function (or a
        # tf.data map) it is traced again, ~5 s for the taxi graph
        self._transform = lambda records: transform(tf.io.parse_example(records, spec))
        schema = output.transformed_metadata.schema
        self._to_arrow = impl_helper.make_tensor_to_arrow_converter(schema)  # as TFX's executor
        self._encoder = RecordBatchToExamplesEncoder(schema)

    def process(self, job: tuple[str, str]):
        import tensorflow as tf

        source, target = job
        batches = (tf.data.TFRecordDataset(source, compression_type=tfx_layout.compression_of(source))
                   .batch(self._rows_per_batch).prefetch(1))
        with tfx_layout.records_writer(target) as out:
            for records in batches:
                batch = self._to_arrow.convert(self._transform(records))
                for record in self._encode(batch):
                    out.write(record)

    def _encode(self, batch) -> list[bytes]:
        if example_encoding.encodes(batch.schema):
            return example_encoding.encode(batch).to_pylist()
        return self._encoder.encode(batch)  # ragged outputs (nested lists) need the schema


def file_jobs(examples, transformed, splits) -> list[tuple[str, str]]:
    """(input file, output file) for every file of the splits to transform; output files
    are numbered in the sorted order of their inputs, so a split reads back in order."""
    jobs = []
    for split in splits:
        target = artifact_utils.get_split_uri(transformed, split)
        fileio.makedirs(target)
        files = tfx_layout.example_files(artifact_utils.get_single_uri(examples), split)
        jobs += [(file, os.path.join(target, f"{OUTPUT_PREFIX}-{i:05d}.gz"))
                 for i, file in enumerate(files)]
    return jobs


class FileAtATimeProcessor(tfx_transform_executor.TransformProcessor):
    """TFX's TransformProcessor (what its Transform executor's Do runs) with the
    file-at-a-time source for tf.Examples (components.executors.bulk_read): the analysis of 1M
    taxi rows took 21-23 s instead of 31-38 s (bench/README.md)."""

    def _CreateTFXIO(self, dataset, schema):
        tfxio = super()._CreateTFXIO(dataset, schema)
        if type(tfxio) is not TFExampleRecord:  # raw records, other payloads: TFX's own
            return tfxio
        return FileAtATimeTFExampleRecord(file_pattern=dataset.file_pattern, schema=schema,
                                          raw_record_column_name=tfxio.raw_record_column_name,
                                          telemetry_descriptors=tfxio.telemetry_descriptors)


@contextlib.contextmanager
def file_at_a_time_analysis():
    """TFX's executor Do creates its TransformProcessor by the module's global name, with
    no hook: the name points at FileAtATimeProcessor while the block runs (one Transform
    at a time per process, as TFX runs them). tests/test_library_guards.py fails if TFX
    stops creating it that way."""
    original = tfx_transform_executor.TransformProcessor
    tfx_transform_executor.TransformProcessor = FileAtATimeProcessor
    try:
        yield
    finally:
        tfx_transform_executor.TransformProcessor = original


class Executor(tfx_transform_executor.Executor):
    """TFX's Transform executor for the analysis, its examples read a file at a time;
    the materialization file by file."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        key = standard_component_specs.TRANSFORMED_EXAMPLES_KEY
        transformed = output_dict.get(key)
        user_code.ship_by_value(exec_properties.get(standard_component_specs.PREPROCESSING_FN_KEY))
        with file_at_a_time_analysis():
            super().Do(input_dict, {k: v for k, v in output_dict.items() if k != key},
                       exec_properties)
        if not transformed:
            return
        examples = input_dict[standard_component_specs.EXAMPLES_KEY]
        splits = executor_utils.ResolveSplitsConfig(
            exec_properties.get(standard_component_specs.SPLITS_CONFIG_KEY), examples).transform
        executor_utils.SetSplitNames(splits, transformed)
        graph_uri = artifact_utils.get_single_uri(
            output_dict[standard_component_specs.TRANSFORM_GRAPH_KEY])
        jobs = file_jobs(examples, transformed, splits)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline
                 | "Files" >> beam.Create(jobs)
                 | "TransformFiles" >> beam.ParDo(TransformFiles(graph_uri, ROWS_PER_BATCH)))


class BulkTransform(Transform):
    """TFX's Transform (same parameters, outputs and analysis) with the bulk
    materialization."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
