"""Both trainers' run_fn called the way a TFX Trainer (or a Kubeflow executor) calls
it, outside the sluice CLI, on the real Transform output of a few hundred rows: the
Keras one in a bare interpreter that never set TF_USE_LEGACY_KERAS (it must choose
Keras 2 itself), and each export loads and predicts as the model server would."""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT, TAXI_CSV, raw_rows

pytestmark = pytest.mark.component
STEPS = 30


def fn_args(config, transformed_examples: Path, transform_graph: Path, out: Path) -> dict:
    return {"train_files": [str(transformed_examples / "Split-train" / "*")],
            "transform_output": str(transform_graph), "serving_model_dir": str(out / "serving"),
            "model_run_dir": str(out / "run"), "train_steps": STEPS,
            "custom_config": json.loads(json.dumps(config.to_dict()))}  # as TFX passes it: JSON


KERAS_RUN_FN = """
import json, sys
{first}
from tfx.components.trainer.fn_args_utils import FnArgs
from trainers.keras_trainer import run_fn
run_fn(FnArgs(**json.loads(sys.argv[1])))
import tensorflow as tf
print("keras module:", tf.keras.__name__)
"""
BARE = f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r})"  # no .pth files run


@pytest.mark.parametrize("interpreter, first", [
    # no site processing: neither the venv's sluice_keras2.pth nor any switch; the trainer,
    # imported first (as TFX's Trainer loads a module file), sets Keras 2 itself
    (["-S"], BARE + "\nimport trainers.keras_trainer"),
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
    from trainers.torch_trainer import run_fn

    config, _, examples, graph = upstream
    args = fn_args(config, examples, graph, tmp_path)
    run_fn(FnArgs(**args))
    model = ServableModel(args["serving_model_dir"])
    assert model.layout.framework == "torch"
    assert model.layout.dense == ("trip_miles", "fare", "trip_seconds")  # found by FeatureKind
    assert model.predict(raw_rows(TAXI_CSV, 5, model.feature_names)).shape == (5, 2)
