"""Where TFX's components put things inside their artifact folders, in one place: the
split folders, the statistics, anomalies and schema files, the Trainer's model folder.

These names are TFX's internal layout, not an API. Every reader in sluice asks this
module, and tests/test_tfx_layout.py runs the real components on a few rows and reads
their output back through it, so a TFX that moves a file fails that fast test instead
of letting a gate read nothing and open."""
from __future__ import annotations

import os
from pathlib import Path

SPLIT_PREFIX = "Split-"
STATISTICS_FILE = "FeatureStats.pb"  # StatisticsGen, one per split
ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator, one per split
SCHEMA_FILE = "schema.pbtxt"  # SchemaGen / ImportSchemaGen
SERVING_MODEL_DIR = "Format-Serving"  # Trainer: fn_args.serving_model_dir
# ExampleGen's and Transform's records: gzipped TFRecord files ("tfrecords_gzip"), at
# zlib's fastest level. Level 6 (zlib's default) took 1.40 s to write 300k taxi records
# where level 1 took 0.53 s, for files 29% larger (14.8 MB, not 11.5); reading is as fast.
GZIP_LEVEL = 1


def compression_of(path: str) -> str:
    """tf.data's compression type for a TFRecord file: gzip by its .gz name, as Beam's
    reader (and so TFX's) decides; ExampleGen writes .gz files."""
    return "GZIP" if path.endswith(".gz") else ""


def records_writer(path: str):
    """A TFRecord writer of one gzipped examples file, as TFX's components write them."""
    import tensorflow as tf

    return tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP",
                                                            compression_level=GZIP_LEVEL))


def split_files(uri: str, file_name: str) -> dict[str, Path]:
    """split name -> <uri>/Split-<split>/<file_name>, for every split that has one."""
    return {path.parent.name.removeprefix(SPLIT_PREFIX): path
            for path in sorted(Path(uri).glob(f"{SPLIT_PREFIX}*/{file_name}"))}


def split_file(uri: str, split: str, file_name: str) -> Path:
    path = Path(uri, f"{SPLIT_PREFIX}{split}", file_name)
    if not path.is_file():
        raise FileNotFoundError(f"no {file_name} for split {split!r} at {path} (has TFX moved it?)")
    return path


def example_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of one split of an Examples artifact, in name order (through
    TFX's file I/O, so gs:// and other remote folders list too)."""
    from tfx.dsl.io import fileio

    folder = os.path.join(examples_uri, f"{SPLIT_PREFIX}{split}")
    return sorted(os.path.join(folder, name) for name in fileio.listdir(folder))


def schema_file(schema_uri: str) -> Path:
    return Path(schema_uri, SCHEMA_FILE)


def serving_model_dir(model_uri: str) -> Path:
    """The exported model inside a Trainer's Model artifact."""
    return Path(model_uri, SERVING_MODEL_DIR)


def custom_properties(node) -> dict:
    """An ML Metadata artifact's or execution's custom properties as plain values."""
    def value(v):
        kind = v.WhichOneof("value")
        return getattr(v, kind) if kind else None

    return {k: value(v) for k, v in node.custom_properties.items()}
