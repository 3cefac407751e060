"""training.workers: 2 worker processes on CPU train the model one worker trains, for
both frameworks (Keras: MultiWorkerMirroredStrategy; PyTorch: DDP on gloo), on the real
Transform output of a few hundred rows, and export it in the single-worker format.

Each worker computes the gradient of its half of every global batch and the framework
averages them, so the two runs differ only by float rounding in the reductions: the
stated tolerance is TOLERANCE on every point of the loss curve and every predicted
probability."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import TAXI_CSV, raw_rows
from tests.test_trainers import fn_args

pytestmark = pytest.mark.e2e
STEPS = 40
TOLERANCE = 1e-3


def trained(upstream, out, framework: str, **training):
    """run_fn as TFX's Trainer calls it -> (history, predictions on 200 taxi rows)."""
    from serving.model_format.model import ServableModel
    from trainers.data import read_history
    from trainers.frameworks import adapter

    run_fn = adapter(framework).run_fn
    config, _, examples, graph = upstream
    config = config.replace(training=dataclasses.replace(config.training, **training))
    args = fn_args(config, examples, graph, out, framework)
    args["train_steps"] = STEPS
    run_fn(SimpleNamespace(**args))
    model = ServableModel(args["serving_model_dir"])
    assert model.layout.framework == framework
    return read_history(args["model_run_dir"]), model.predict(raw_rows(TAXI_CSV, 200, model.feature_names))


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_two_workers_train_what_one_worker_trains(upstream, tmp_path, framework):
    one, one_predictions = trained(upstream, tmp_path / "one", framework, workers=1)
    two, two_predictions = trained(upstream, tmp_path / "two", framework, workers=2)
    assert (one["workers"], two["workers"]) == (1, 2)
    assert all((tmp_path / "two" / "run" / f"worker-{rank}.log").is_file() for rank in (0, 1))
    assert len(two["loss"]) == len(one["loss"])
    np.testing.assert_allclose(two["loss"], one["loss"], atol=TOLERANCE)
    np.testing.assert_allclose(two_predictions, one_predictions, atol=TOLERANCE)
    assert two["loss"][-1] < two["loss"][0]  # it did learn


def test_a_failed_worker_stops_training_and_names_its_log(upstream, tmp_path):
    from trainers import distributed

    config, _, examples, graph = upstream
    config = config.replace(training=dataclasses.replace(config.training, workers=2))
    args = fn_args(config, examples, graph, tmp_path, "torch")
    args["transform_output"] = str(tmp_path / "no-such-transform-graph")
    with pytest.raises(RuntimeError, match=r"training worker \d of 2 \(torch\) exited with 1; "
                                           r"its log: .*worker-\d\.log") as failure:
        distributed.launch("torch", SimpleNamespace(**args), 2)
    log = str(failure.value).split("its log: ")[1].splitlines()[0]
    last_line = open(log).read().splitlines()[-1]
    assert "Error" in last_line and str(failure.value).endswith(last_line + "\n")  # its tail
