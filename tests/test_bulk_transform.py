"""The bulk Transform executor against TFX's own Transform executor, both real, on the
same ExampleGen output: every transformed split holds the same examples, and each
output file holds its input file's rows in their order (so a rerun writes them in the
same order). Records are compared decoded (TFX's encoder orders a record's features by
a hash map, which differs between processes; ours writes them in key order):
integer and string features equal, float features within 1e-6, as the analysis sums
means and variances over other batches (it reads a file at a time, components.
bulk_read): the z-scores differ in the last bit of a float32. Batches of 64 rows, so
each file is transformed in several batches, with a short one at its end."""
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.transform.executor import Executor as TfxTransformExecutor
from tfx.types import artifact_utils, standard_artifacts

from components.executors import bulk_read, bulk_transform
from sluice_config.config import to_json

pytestmark = pytest.mark.component


def decoded(record: bytes) -> tuple[tuple, tuple]:
    """A tf.Example -> ((name, ints or strings) ..., (name, floats) ...), by name."""
    features = sorted(tf.train.Example.FromString(record).features.feature.items())
    exact = tuple((name, tuple(f.int64_list.value) or tuple(f.bytes_list.value))
                  for name, f in features if not f.HasField("float_list"))
    floats = tuple((name, tuple(f.float_list.value)) for name, f in features if f.HasField("float_list"))
    return exact, floats


def assert_same_examples(ours: list, theirs: list, split: str) -> None:
    """The same decoded examples in any order; float features within 1e-6."""
    assert len(ours) == len(theirs), split
    for mine, other in zip(sorted(ours), sorted(theirs)):
        assert mine[0] == other[0], split
        assert [n for n, _ in mine[1]] == [n for n, _ in other[1]], split
        assert np.allclose([v for _, vs in mine[1] for v in vs], [v for _, vs in other[1] for v in vs],
                           rtol=0, atol=1e-6), split


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
    return {split: [[decoded(r.numpy()) for r in tf.data.TFRecordDataset(str(f), compression_type="GZIP")]
                    for f in sorted(split_dir.iterdir())]
            for split_dir in sorted((out / "examples").glob("Split-*"))
            for split in [split_dir.name.removeprefix("Split-")]}


def test_the_bulk_executor_writes_what_transform_writes(upstream, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_transform, "ROWS_PER_BATCH", 64)
    monkeypatch.setattr(bulk_read, "ROWS_PER_BATCH", 64)
    tfx = transform(TfxTransformExecutor, upstream, tmp_path / "tfx")
    sources = []  # the analysis reads through the file-at-a-time source
    read_files = bulk_read.FileAtATimeTFExampleRecord.BeamSource
    monkeypatch.setattr(bulk_read.FileAtATimeTFExampleRecord, "BeamSource",
                        lambda self, batch_size=None: sources.append(self) or read_files(self, batch_size))
    ours = transform(bulk_transform.Executor, upstream, tmp_path / "ours")
    assert sources, "TFX's Transform analysis did not read through components.executors.bulk_read"
    assert sorted(ours) == sorted(tfx) == ["eval", "train"]
    for split in tfx:
        assert_same_examples([r for f in ours[split] for r in f], [r for f in tfx[split] for r in f], split)
    assert sum(len(f) for files in ours.values() for f in files) == 300
    assert max(len(f) for f in ours["train"]) > 64  # several batches in a file
    examples_dir = upstream[1]
    for split, files in ours.items():  # trip_start_hour is an identity feature: the raw hour
        inputs = sorted((examples_dir / f"Split-{split}").iterdir())
        assert len(inputs) == len(files), split
        for source, records in zip(inputs, files):
            raw = [tf.train.Example.FromString(r.numpy()).features.feature["trip_start_hour"]
                   .int64_list.value[0] for r in tf.data.TFRecordDataset(str(source), compression_type="GZIP")]
            assert [dict(exact)["trip_start_hour_xf"][0] for exact, _ in records] == raw, source
