"""TFX's StatisticsGen with the examples read a file at a time: the same TFDV statistics,
computed by the same TFDV PTransform, on Arrow batches read in bulk.

TFX's executor reads each split record by record through Beam (a Python TFRecord
reader, each record an element, then batched again for decoding): on 1M taxi rows that
reading was ~40% of the step. Here the Beam element is one input file, read into Arrow
RecordBatches of 8,192 rows by components.executors.bulk_read (the types inferred, as TFX's
source does: a schema only guides the statistics), and tfdv.GenerateStatistics computes
the statistics.

What is the same as TFX's StatisticsGen (tests/test_bulk_statistics.py runs both on the
same examples): every count, mean, deviation, min, max and top value; histograms within
the approximation of TFDV's quantile sketches, which depends on how rows are batched.
Supports what the component offers in TFX 1.16: a schema input or stats options (but
not their experimental_filter_read_paths), and excluded splits.
"""
from __future__ import annotations

import os

import apache_beam as beam
import tensorflow_data_validation as tfdv
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.statistics_gen.executor import (
    DEFAULT_FILE_NAME,
    SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
)
from tfx.components.statistics_gen.executor import Executor as TfxStatisticsExecutor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils

from components.artifacts import tfx_layout
from components.executors.bulk_read import ROWS_PER_BATCH, record_batches


class Executor(TfxStatisticsExecutor):
    """StatisticsGen's Do with a file-at-a-time source."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        keys = standard_component_specs
        if exec_properties.get(keys.SHARDED_STATS_OUTPUT_KEY) or json_utils.loads(
                exec_properties.get(keys.SAMPLE_RATE_BY_SPLIT_KEY) or "null"):
            raise ValueError("sluice's StatisticsGen writes one binary statistics file per "
                             "split, at the StatsOptions' sample rate")
        examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
        excluded = json_utils.loads(exec_properties.get(keys.EXCLUDE_SPLITS_KEY) or "null") or []
        splits = [s for s in artifact_utils.decode_split_names(examples.split_names) if s not in excluded]
        statistics = artifact_utils.get_single_instance(output_dict[keys.STATISTICS_KEY])
        statistics.split_names = artifact_utils.encode_split_names(splits)
        statistics.span = examples.span
        options = tfdv.StatsOptions()
        if exec_properties.get(keys.STATS_OPTIONS_JSON_KEY):
            options = tfdv.StatsOptions.from_json(exec_properties[keys.STATS_OPTIONS_JSON_KEY])
        if input_dict.get(keys.SCHEMA_KEY):
            if options.schema:
                raise ValueError("a schema was given both as an input and in the stats options")
            options.schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
                artifact_utils.get_single_uri(input_dict[keys.SCHEMA_KEY])))
        if options.experimental_filter_read_paths:
            raise ValueError("sluice's StatisticsGen reads every feature "
                             "(experimental_filter_read_paths is not supported)")
        statistics.set_json_value_custom_property(SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME, json_utils.dumps(
            {split: options.sample_rate or 1.0 for split in splits}))
        with self._make_beam_pipeline() as pipeline:
            for split in splits:
                files = tfx_layout.example_files(examples.uri, split)
                output = os.path.join(artifact_utils.get_split_uri([statistics], split), DEFAULT_FILE_NAME)
                _ = (pipeline
                     | f"Files[{split}]" >> beam.Create(files)
                     | f"Decode[{split}]" >> beam.FlatMap(record_batches, ROWS_PER_BATCH)
                     | f"GenerateStatistics[{split}]" >> tfdv.GenerateStatistics(options)
                     | f"WriteStatsOutput[{split}]" >> tfdv.WriteStatisticsToBinaryFile(output))


class BulkStatisticsGen(StatisticsGen):
    """TFX's StatisticsGen (same parameters and outputs) reading its examples in bulk."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
