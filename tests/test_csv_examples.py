"""The columnar CSV executor against TFX's own CsvExampleGen executor, both real, on
the same files: every split holds the same examples, each record byte for byte the
deterministic serialization of the Example TFX makes (its files hold the same fields
in column order); and, unlike TFX's reshuffled files, the same order on every run. The tricky file has what TFX's parser handles: quoted commas and
newlines, empty cells, a column empty everywhere, ints in a float column, an int over
int64 (a string then), and numbers that only Python reads (" 7", "1_000", "inf"), and an Arabic-Indic digit
(a number to int("\u0663"), a string to TFX, which reads bytes)."""
import collections

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen.executor import Executor as TfxCsvExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import proto_utils

from components.executors.csv_examples import Executor as ColumnarCsvExecutor
from tests.conftest import TAXI_CSV, head_csv

pytestmark = pytest.mark.component
TRICKY = '''id,name,score,count,blank,mixed,big,odd,digits
1,"Smith, Jo",1.5,3,,7,1,1_000,1
2,"two
lines",2,,,x,9223372036854775808, 7,٣
3,,-0.25,-4,,2.5,3,inf,2
4,"quote ""inside""",1e3,0,,,4,,3
5,plain,.5,12,,1,5,-1.5,4
'''


def example_gen_properties(csv) -> dict:
    """An ExampleGen executor's properties for one CSV split 2:1 into train and eval, as
    the pipeline sets them (also used by bench/csv_example_gen.py)."""
    splits = [("train", 2), ("eval", 1)]
    return {
        "input_base": str(csv.parent),
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern=csv.name)])),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b) for n, b in splits]))),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }


def run(executor, csv, out):
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    executor().Do({}, {"examples": [examples]}, example_gen_properties(csv))
    records = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = sorted(tf.io.gfile.glob(f"{out}/Split-{split}/*"))
        records[split] = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    return records


@pytest.mark.parametrize("source", ["taxi", "tricky"])
def test_the_columnar_executor_writes_what_csv_example_gen_writes(tmp_path, source):
    (tmp_path / "data").mkdir()
    if source == "taxi":
        csv = head_csv(TAXI_CSV, tmp_path / "data" / "taxi.csv", 1500)
    else:
        csv = tmp_path / "data" / "tricky.csv"
        csv.write_text(TRICKY)
    tfx = run(TfxCsvExecutor, csv, tmp_path / "tfx")
    ours = run(ColumnarCsvExecutor, csv, tmp_path / "ours")
    assert sorted(ours) == sorted(tfx) == ["eval", "train"]
    for split in tfx:
        canonical = [tf.train.Example.FromString(r).SerializeToString(deterministic=True)
                     for r in tfx[split]]
        assert collections.Counter(ours[split]) == collections.Counter(canonical), split
    assert sum(map(len, ours.values())) == (1500 if source == "taxi" else 5)
    assert run(ColumnarCsvExecutor, csv, tmp_path / "again") == ours  # same files, same order
    if source == "tricky":
        example = {tf.train.Example.FromString(r).features.feature["id"].int64_list.value[0]:
                   tf.train.Example.FromString(r).features.feature
                   for rs in ours.values() for r in rs}
        assert example[2]["name"].bytes_list.value == [b"two\nlines"]
        assert example[2]["big"].bytes_list.value == [b"9223372036854775808"]  # over int64
        assert example[2]["odd"].float_list.value == [7.0]  # float(" 7")
        assert example[2]["digits"].bytes_list.value == ["\u0663".encode()]  # not int("\u0663")
        assert not example[1]["blank"].HasField("kind")  # empty everywhere: no kind
        assert list(example[2]["count"].int64_list.value) == []  # empty cell: no values
        for split, records in ours.items():  # in the order of the CSV, unlike TFX's reshuffle
            ids = [tf.train.Example.FromString(r).features.feature["id"].int64_list.value[0]
                   for r in records]
            assert ids == sorted(ids), split
