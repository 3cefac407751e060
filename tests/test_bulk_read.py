"""The file-at-a-time tf.Example reader (components.executors.bulk_read) reads plain and gzipped
TFRecord files alike, as Beam's reader does by the file's name, in batches of the size
asked, with the raw records as a column when one is named."""
import pytest
import tensorflow as tf

from components.executors.bulk_read import record_batches

pytestmark = pytest.mark.unit


def example(i: int) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "hour": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
        "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"c{i % 3}".encode()])),
    })).SerializeToString()


@pytest.mark.parametrize("name,compression", [("plain.tfrecord", ""), ("zipped.gz", "GZIP")])
def test_plain_and_gzipped_files_read_alike(tmp_path, name, compression):
    path = str(tmp_path / name)
    records = [example(i) for i in range(7)]
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type=compression)) as out:
        for record in records:
            out.write(record)
    batches = list(record_batches(path, 3, raw_record_column="__raw__"))
    assert [b.num_rows for b in batches] == [3, 3, 1]
    assert [v[0] for b in batches for v in b.column("hour").to_pylist()] == list(range(7))
    assert [v[0] for b in batches for v in b.column("__raw__").to_pylist()] == records
