"""Both trainers' run_fn called the way a TFX Trainer (or a Kubeflow executor) calls
it, outside the sluice CLI, on the real Transform output of a few hundred rows: the
Keras one in a bare interpreter that never set TF_USE_LEGACY_KERAS (it must choose
Keras 2 itself), and each export loads and predicts as the model server would."""
import dataclasses
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, TAXI_CSV, raw_rows

pytestmark = pytest.mark.component
STEPS = 30


def fn_args(config, transformed_examples: Path, transform_graph: Path, out: Path,
            candidate: str = "keras") -> dict:
    from trainers import module_contract

    custom_config = module_contract.custom_config(config, config.candidate(candidate))
    return {"train_files": [str(transformed_examples / "Split-train" / "*")],
            "transform_output": str(transform_graph), "serving_model_dir": str(out / "serving"),
            "model_run_dir": str(out / "run"), "train_steps": STEPS,
            "custom_config": json.loads(json.dumps(custom_config))}  # as TFX passes it: JSON


KERAS_RUN_FN = """
import json, sys
{first}
from tfx.components.trainer.fn_args_utils import FnArgs
from trainers.frameworks.keras_adapter import run_fn
run_fn(FnArgs(**json.loads(sys.argv[1])))
import tensorflow as tf
print("keras module:", tf.keras.__name__)
"""
BARE = f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r})"  # no .pth files run


@pytest.mark.parametrize("interpreter, first", [
    # no site processing: neither the venv's sluice_keras2.pth nor any switch; the trainer,
    # imported first (as TFX's Trainer loads a module file), sets Keras 2 itself
    (["-S"], BARE + "\nimport trainers.frameworks.keras_adapter"),
    # an executor that imports TensorFlow before the trainer: the venv's .pth set the switch
    ([], "import tensorflow as tf; tf.keras.layers"),
], ids=["trainer-first", "tensorflow-first"])
def test_keras_run_fn_outside_the_cli_trains_on_keras_2(upstream, tmp_path, interpreter, first):
    from serving.model_format.model import ServableModel
    from trainers.data import read_history

    config, _, examples, graph = upstream
    args = fn_args(config, examples, graph, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    script = KERAS_RUN_FN.format(first=first)
    result = subprocess.run([sys.executable, *interpreter, "-c", script, json.dumps(args)], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "keras module: tf_keras" in result.stdout  # Keras 2
    assert len(read_history(args["model_run_dir"])["loss"]) > 0
    model = ServableModel(args["serving_model_dir"])
    assert model.predict(raw_rows(TAXI_CSV, 5, model.feature_names)).shape == (5, 2)


def test_torch_run_fn_reads_the_typed_config_and_exports_a_servable_model(upstream, tmp_path):
    from tfx.components.trainer.fn_args_utils import FnArgs

    from serving.model_format.model import ServableModel
    from trainers.frameworks.torch_adapter import run_fn

    config, _, examples, graph = upstream
    args = fn_args(config, examples, graph, tmp_path, "torch")
    run_fn(FnArgs(**args))
    model = ServableModel(args["serving_model_dir"])
    assert model.layout.framework == "torch"
    # read from the transform output: floats are numbers, declared ranges are ids
    assert model.layout.numeric == ("fare_xf", "trip_miles_xf", "trip_seconds_xf")
    assert model.layout.categorical["trip_start_hour_xf"] == 25  # 24 hours and out-of-range
    assert model.layout.categorical["payment_type_xf"] > 2  # a vocabulary and its OOV id
    assert model.predict(raw_rows(TAXI_CSV, 5, model.feature_names)).shape == (5, 2)


def test_streamed_batches_are_seeded_and_shared_between_workers(upstream):
    """Over the memory budget the batches come from the TFRecords: the same ones from
    one seed whatever else seeded TensorFlow (so both frameworks get them), and two
    workers get half a batch each, of different examples."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from trainers.batches import load_examples, training_batches
    from trainers.data import feature_layout
    from trainers.distributed import Worker

    config, _, examples, graph = upstream
    training = dataclasses.replace(config.training, memory_budget_mb=0)
    tft_output = tft.TFTransformOutput(str(graph))
    layout = feature_layout(config, tft_output, config.candidate("torch"))
    files = [str(examples / "Split-train" / "*")]

    def batches(seed_before, worker=Worker()):
        tf.random.set_seed(seed_before)
        found = training_batches(files, tft_output, layout, training, 12, worker)
        assert found.streamed
        return [(np.stack([inputs[n] for n in layout.numeric], 1), labels) for inputs, labels in found.steps]

    first, again = batches(1), batches(999)
    assert len(first) == 12 and all(len(labels) == training.batch_size for _, labels in first)
    for (a, la), (b, lb) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    halves = [batches(1, Worker(rank, 2)) for rank in (0, 1)]
    assert all(len(labels) == training.batch_size // 2 for half in halves for _, labels in half)
    seen = [{row.tobytes() for dense, _ in half for row in dense} for half in halves]
    # each worker reads its own shard: a row both saw is one the split holds twice
    loaded = load_examples(tf.io.gfile.glob(files[0]), tft_output.transformed_feature_spec(), layout)[0]
    every_row = [row.tobytes() for row in np.stack([loaded[n] for n in layout.numeric], 1)]
    repeated = {row for row in every_row if every_row.count(row) > 1}
    assert seen[0] != seen[1] and seen[0] & seen[1] <= repeated


def test_the_split_size_is_read_from_the_gzip_trailers(upstream):
    import gzip

    from trainers.batches import uncompressed_mb

    _, _, examples, _ = upstream
    files = sorted(str(f) for f in (examples / "Split-train").iterdir())
    expected = sum(len(gzip.decompress(open(f, "rb").read())) for f in files) / 2**20
    assert uncompressed_mb(files) == pytest.approx(expected)


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_trainers_stream_a_split_over_the_memory_budget(upstream, tmp_path, framework):
    from tests.test_distributed_training import trained

    history, predictions = trained(upstream, tmp_path, framework, memory_budget_mb=0)
    assert history["batches"] == "streamed"
    assert predictions.shape == (200, 2)
