"""The model gate reads the eval split in bulk (TensorFlow's parser with the raw schema's
dtypes, or tfx_bsl's C++ decoder), and gets exactly what decoding one tf.Example
protobuf per row gives, on a real ExampleGen output with missing values, strings, ints
and floats."""
import pytest
import tensorflow as tf

from components import evaluate
from components.artifacts import tfx_layout
from components.evaluate import read_raw_split

pytestmark = pytest.mark.component


def per_example(examples_uri: str, split: str, columns) -> dict[str, list]:
    """The reference: the reader the gate used before, one protobuf at a time."""
    files = tfx_layout.example_files(examples_uri, split)
    out = {c: [] for c in columns}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        features = tf.train.Example.FromString(record).features.feature
        for column in columns:
            feature = features.get(column)
            kind = feature.WhichOneof("kind") if feature is not None else None
            values = getattr(feature, kind).value if kind else []
            value = values[0] if len(values) else None
            out[column].append(value.decode() if isinstance(value, bytes) else value)
    return out


def test_bulk_reader_gives_what_per_example_decoding_gives(upstream):
    import tensorflow_transform as tft

    config, examples, _, graph = upstream
    columns = [*config.raw_columns, "no_such_column"]
    schema_dtypes = {n: s.dtype for n, s in tft.TFTransformOutput(str(graph)).raw_feature_spec().items()}
    assert set(config.raw_columns) <= set(schema_dtypes)
    readers = {
        "decoder": None,  # a column without a dtype: every column by tfx_bsl's decoder
        "parser": {**schema_dtypes, "no_such_column": tf.float32},
        "parser, a kind unlike the records'": {**schema_dtypes, "fare": tf.int64,
                                               "no_such_column": tf.float32},
    }
    for split in ("train", "eval"):
        expected = per_example(str(examples), split, columns)
        for batch_rows in (7, 16384):  # batches that split the file, and one batch
            for reader, dtypes in readers.items():
                got = read_raw_split(str(examples), split, columns, batch_rows, dtypes)
                assert got == expected, (split, batch_rows, reader)
                assert {type(v) for v in got["fare"]} <= {float, type(None)}
    assert any(v is None for v in expected["company"])  # missing values were exercised
    assert all(v is None for v in expected["no_such_column"])
    # the parser read what it could, and only the records of another kind fell back
    records = next(tf.data.TFRecordDataset(tfx_layout.example_files(str(examples), "eval"),
                                           compression_type="GZIP").batch(50).as_numpy_iterator())
    assert evaluate._parsed(records, columns, readers["parser"]) is not None
    assert evaluate._parsed(records, columns, readers["parser, a kind unlike the records'"]) is None


def test_the_gate_scores_the_split_in_chunks_as_it_would_whole(upstream, tmp_path, monkeypatch):
    """score_eval_split holds one chunk of raw rows at a time; chunks of 7 rows give the
    labels, predictions, slices and samples that the whole split gives at once."""
    import numpy as np
    import tensorflow_transform as tft
    from tfx.components.trainer.fn_args_utils import FnArgs

    from components import evaluate
    from serving.model_format.model import ServableModel
    from tests.test_trainers import fn_args
    from trainers.frameworks.torch_adapter import run_fn

    config, examples, transformed, graph = upstream
    args = fn_args(config, transformed, graph, tmp_path, "torch")
    run_fn(FnArgs(**args))
    model = ServableModel(args["serving_model_dir"])
    columns = list(dict.fromkeys([*model.feature_names, *config.model_gate.label_columns]))
    whole = read_raw_split(str(examples), "eval", list(dict.fromkeys([*columns, "trip_start_hour"])))
    monkeypatch.setattr(evaluate, "EVAL_CHUNK_ROWS", 7)
    scored = evaluate.score_eval_split(str(examples), str(graph), columns, [model, model],
                                       ["trip_start_hour"])
    rows = len(whole["fare"])
    assert rows > 7 * 3 and rows % 7  # several chunks, the last one short
    assert scored.labels.tolist() == evaluate.labels_of(whole, tft.TFTransformOutput(str(graph))).tolist()
    for probabilities in scored.probabilities:
        np.testing.assert_allclose(probabilities, model.predict(whole), rtol=0, atol=1e-6)
    assert scored.slices["trip_start_hour"].tolist() == whole["trip_start_hour"]
    assert scored.first_rows["fare"] == whole["fare"][:evaluate.SAMPLE_ROWS]
