"""The model gate's eval-split reader (components.evaluate.read_raw_split), by
TensorFlow's parser with the columns' dtypes (what the gate does) and by tfx_bsl's
decoder (without dtypes), against decoding one tf.Example protobuf per row in Python
(the reader it replaced, kept in tests/test_eval_split_reader.py as the reference), on
the taxi rows repeated. Prints seconds and the ratios, all in this one process.

  .venv/bin/python bench/eval_split_read.py [ROWS]   (default 150,000)
"""
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipelines.patches.quiet import configure_environment  # noqa: E402

configure_environment()
import tensorflow as tf  # noqa: E402

from components.evaluate import read_raw_split  # noqa: E402
from sluice_config import config as config_module  # noqa: E402
from tests.test_eval_split_reader import per_example  # noqa: E402


def column_kinds(source: list[dict]) -> dict[str, str]:
    """int, float or bytes per column, as CsvExampleGen infers them from the whole file."""
    def kind(values):
        values = [v for v in values if v != ""]
        if all(v.lstrip("-").isdigit() for v in values):
            return "int"
        try:
            [float(v) for v in values]
            return "float"
        except ValueError:
            return "bytes"
    return {name: kind([row[name] for row in source]) for name in source[0]}


def write_split(folder: Path, rows: int) -> dict[str, str]:
    """The taxi CSV as ExampleGen encodes it (one type per column; empty = missing)."""
    with open(config_module.load("taxi").data, newline="") as f:
        source = list(csv.DictReader(f))
    kinds = column_kinds(source)
    split = folder / "Split-eval"
    split.mkdir(parents=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(split / "data.gz"), options) as writer:
        for i in range(rows):
            feature = {}
            for name, value in source[i % len(source)].items():
                if value == "":
                    feature[name] = tf.train.Feature()
                elif kinds[name] == "int":
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                elif kinds[name] == "float":
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
                else:
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return kinds


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 150_000
    columns = list(config_module.load("taxi").raw_columns)
    with tempfile.TemporaryDirectory() as folder:
        kinds = write_split(Path(folder), rows)
        dtypes = {name: {"int": tf.int64, "float": tf.float32, "bytes": tf.string}[kind]
                  for name, kind in kinds.items()}
        reference, expected = timed(per_example, folder, "eval", columns)
        decoded, by_decoder = timed(read_raw_split, folder, "eval", columns, 16384, None)
        parsed, by_parser = timed(read_raw_split, folder, "eval", columns, 16384, dtypes)
    assert by_decoder == expected and by_parser == expected
    print(f"{rows:,} rows, {len(columns)} columns: per-example protobuf {reference:.2f} s; "
          f"tfx_bsl's decoder {decoded:.2f} s (ratio {decoded / reference:.3f}); "
          f"TensorFlow's parser {parsed:.2f} s (ratio {parsed / reference:.3f}); identical output")
