"""Serializing tf.Examples from Arrow columns: components.executors.example_encoding (what
ExampleGen and Transform use) against tfx_bsl's RecordBatchToExamplesEncoder (what they
used; one C++ message per row, features in hash-map order), on the taxi rows repeated,
typed as ExampleGen types them. Checks that both give the same Examples, and prints
seconds and the ratio, both in this one process.

  .venv/bin/python bench/example_encoding.py [ROWS]   (default 150,020)
"""
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from pipelines.patches.quiet import configure_environment  # noqa: E402

configure_environment()
sys.path.append(str(HERE))
import pyarrow as pa  # noqa: E402
import tensorflow as tf  # noqa: E402
from scale import repeated_taxi  # noqa: E402
from tfx.utils import io_utils  # noqa: E402
from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder  # noqa: E402

from components.executors import csv_examples, example_encoding  # noqa: E402


def typed_blocks(path: Path) -> list[pa.RecordBatch]:
    """The CSV's blocks with ExampleGen's column types, as the encoders get them."""
    names = io_utils.load_csv_column_names(str(path))
    blocks = [block for _, block in csv_examples.read_blocks((0, str(path)), names)]
    types: dict = {}
    for block in blocks:
        types = csv_examples.WidestTypes().add_input(types, csv_examples.block_types(("", block)))
    return [pa.RecordBatch.from_arrays([csv_examples.typed_column(b.column(n), types[n]) for n in names],
                                       names) for b in blocks]


def timed(encode, blocks) -> tuple[float, list[bytes]]:
    start = time.perf_counter()
    records = [record for block in blocks for record in encode(block)]
    return time.perf_counter() - start, records


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 150_020
    with tempfile.TemporaryDirectory() as folder:
        blocks = typed_blocks(repeated_taxi(rows, Path(folder)))
    tfx_bsl, theirs = timed(RecordBatchToExamplesEncoder().encode, blocks)
    ours_s, ours = timed(lambda block: example_encoding.encode(block).to_pylist(), blocks)
    assert len(ours) == len(theirs) == rows
    assert all(tf.train.Example.FromString(a) == tf.train.Example.FromString(b)
               for a, b in zip(ours, theirs))
    print(f"{rows:,} rows: tfx_bsl's encoder {tfx_bsl:.2f} s, example_encoding {ours_s:.2f} s, "
          f"ratio {ours_s / tfx_bsl:.2f} (the same Examples; ours in key order)")
