"""The bulk Transform executor against TFX's own Transform executor, both real, on the
same ExampleGen output: every transformed split holds the same examples, and each
output file holds its input file's rows in their order (so a rerun writes them in the
same order). (Each record is compared as its
deterministic serialization: the encoder both use orders a record's features by a hash
map, which differs between processes, in TFX's output as in ours.) Batches of 64 rows, so each
file is transformed in several batches, with a short one at its end."""
import collections
import json
import shutil

import pytest
import tensorflow as tf
from tfx.components.transform.executor import Executor as TfxTransformExecutor
from tfx.types import artifact_utils, standard_artifacts

from components import bulk_transform
from pipelines.definition.config import to_json

pytestmark = pytest.mark.component


def canonical(record: bytes) -> bytes:
    return tf.train.Example.FromString(record).SerializeToString(deterministic=True)


def run_transform(executor, config, examples_dir, out) -> None:
    """Runs one Transform executor on an ExampleGen output (also bench/bulk_steps.py)."""
    examples = standard_artifacts.Examples()
    examples.uri = str(examples_dir)
    examples.split_names = artifact_utils.encode_split_names(
        sorted(p.name.removeprefix("Split-") for p in examples_dir.glob("Split-*")))
    schema = standard_artifacts.Schema()
    schema.uri = str(out / "schema")
    (out / "schema").mkdir(parents=True)
    shutil.copy(config.schema, out / "schema" / "schema.pbtxt")
    graph, transformed = standard_artifacts.TransformGraph(), standard_artifacts.Examples()
    graph.uri, transformed.uri = str(out / "graph"), str(out / "examples")
    executor().Do({"examples": [examples], "schema": [schema]},
                  {"transform_graph": [graph], "transformed_examples": [transformed]},
                  {"preprocessing_fn": config.preprocessing_fn,
                   "custom_config": json.dumps(to_json(config.transform_config)),
                   "disable_statistics": 1, "disable_analyzer_cache": 1, "force_tf_compat_v1": 0})


def transform(executor, upstream, out) -> dict[str, list[list[bytes]]]:
    """Runs one Transform executor on the upstream examples -> {split: [examples of each
    file, in file order]}."""
    config, examples_dir, _, _ = upstream
    run_transform(executor, config, examples_dir, out)
    return {split: [[canonical(r.numpy()) for r in tf.data.TFRecordDataset(str(f), compression_type="GZIP")]
                    for f in sorted(split_dir.iterdir())]
            for split_dir in sorted((out / "examples").glob("Split-*"))
            for split in [split_dir.name.removeprefix("Split-")]}


def test_the_bulk_executor_writes_what_transform_writes(upstream, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_transform, "ROWS_PER_BATCH", 64)
    tfx = transform(TfxTransformExecutor, upstream, tmp_path / "tfx")
    ours = transform(bulk_transform.Executor, upstream, tmp_path / "ours")
    assert sorted(ours) == sorted(tfx) == ["eval", "train"]
    for split in tfx:
        theirs = [r for f in tfx[split] for r in f]
        assert collections.Counter(r for f in ours[split] for r in f) == collections.Counter(theirs), split
    assert sum(len(f) for files in ours.values() for f in files) == 300
    assert max(len(f) for f in ours["train"]) > 64  # several batches in a file
    examples_dir = upstream[1]
    for split, files in ours.items():  # trip_start_hour is an identity feature: the raw hour
        inputs = sorted((examples_dir / f"Split-{split}").iterdir())
        assert len(inputs) == len(files), split
        for source, records in zip(inputs, files):
            raw = [tf.train.Example.FromString(r.numpy()).features.feature["trip_start_hour"]
                   .int64_list.value[0] for r in tf.data.TFRecordDataset(str(source), compression_type="GZIP")]
            assert [tf.train.Example.FromString(r).features.feature["trip_start_hour_xf"]
                    .int64_list.value[0] for r in records] == raw, source
