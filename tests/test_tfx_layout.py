"""TFX's artifact layout, as components.artifacts.tfx_layout reads it, checked against the real
executors on a few rows: StatisticsGen's statistics, ImportSchemaGen's schema and an
anomaly that ExampleValidator really writes are read back, and the Trainer's model
folder is where TFX puts it. If TFX moves a file, this fails here (naming the TFX
version) instead of the data gate reading no anomalies and opening."""
import pytest
import tensorflow as tf
import tfx
from tfx.types import standard_artifacts

from components.artifacts import tfx_layout
from components.gates.anomalies import read_anomalies
from components.reports.tfx_steps import split_rows

pytestmark = pytest.mark.component
TFX = f"tfx {tfx.__version__}"
SCHEMA = """
feature { name: "fare" type: FLOAT presence { min_fraction: 1.0 } }
feature { name: "company" type: BYTES domain: "company" presence { min_fraction: 1.0 } }
string_domain { name: "company" value: "Flash Cab" }
"""


def artifact(kind, uri, splits=None):
    a = kind()
    a.uri = str(uri)
    if splits:
        a.split_names = tfx.types.artifact_utils.encode_split_names(splits)
    return a


def write_examples(uri, rows):
    split = uri / f"{tfx_layout.SPLIT_PREFIX}train"
    split.mkdir(parents=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(split / "data_tfrecord-00000-of-00001.gz"), options) as writer:
        for fare, company in rows:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[fare])),
                "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=[company.encode()])),
            })).SerializeToString())


def test_the_readers_find_what_the_real_executors_write(tmp_path):
    from tfx.components.example_validator.executor import Executor as ExampleValidator
    from tfx.components.schema_gen.import_schema_gen.executor import Executor as ImportSchemaGen
    from tfx.components.statistics_gen.executor import Executor as StatisticsGen

    rows = [(float(i), "Flash Cab") for i in range(24)] + [(3.5, "Unheard Of Cab")]
    write_examples(tmp_path / "examples", rows)
    examples = artifact(standard_artifacts.Examples, tmp_path / "examples", ["train"])
    statistics = artifact(standard_artifacts.ExampleStatistics, tmp_path / "statistics")
    StatisticsGen().Do({"examples": [examples]}, {"statistics": [statistics]}, {})
    assert split_rows(statistics.uri) == {"train": 25}, (
        f"{TFX}: StatisticsGen's {tfx_layout.STATISTICS_FILE} is not where tfx_layout looks")

    (tmp_path / "curated.pbtxt").write_text(SCHEMA)
    schema = artifact(standard_artifacts.Schema, tmp_path / "schema")
    ImportSchemaGen().Do({}, {"schema": [schema]}, {"schema_file": str(tmp_path / "curated.pbtxt")})
    assert tfx_layout.schema_file(schema.uri).is_file(), f"{TFX}: ImportSchemaGen's schema moved"

    anomalies = artifact(standard_artifacts.ExampleAnomalies, tmp_path / "anomalies")
    ExampleValidator().Do({"statistics": [statistics], "schema": [schema]}, {"anomalies": [anomalies]}, {})
    found = read_anomalies(anomalies.uri)
    assert [(a["split"], a["feature"]) for a in found] == [("train", "company")], (
        f"{TFX}: the anomaly ExampleValidator wrote was not read back ({found}); "
        f"is {tfx_layout.ANOMALIES_FILE} still its file?")


def test_trainer_model_folder_is_where_tfx_puts_it(tmp_path):
    from tfx.utils import path_utils

    assert str(tfx_layout.serving_model_dir(str(tmp_path))) == path_utils.serving_model_dir(str(tmp_path)), (
        f"{TFX}: the Trainer exports somewhere else than {tfx_layout.SERVING_MODEL_DIR}")
