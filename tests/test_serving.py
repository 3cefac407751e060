"""The model server (`sluice serve`) as clients see it: a real server process on a
loopback port, serving the Keras and PyTorch models of a real pipeline run."""
import threading
import time

import numpy as np
import pandas as pd
import pytest

from serving.model_format import push_target
from serving.model_format.model import ServableModel
from serving.server.process import ServerProcess

pytestmark = pytest.mark.e2e
MODELS = ("taxi-keras", "taxi-torch")
MAX_BYTES = 200_000


def trained_model_dir(home, framework):
    runs = sorted((home / "pipeline_root" / f"train_{framework}" / "model").iterdir(), key=lambda p: int(p.name))
    return runs[0] / "Format-Serving"


@pytest.fixture(scope="module")
def models(first_run):
    home, result = first_run
    assert result.returncode == 0
    return {f"taxi-{fw}": trained_model_dir(home, fw) for fw in ("keras", "torch")}


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    serving_dir = tmp_path_factory.mktemp("serve") / "serving"
    for name, model_dir in models.items():
        push_target.push(model_dir, serving_dir, name, {"model_uri": str(model_dir)})
    with ServerProcess(serving_dir, "--poll-seconds", "0.2", "--max-request-bytes", str(MAX_BYTES)) as s:
        s.wait_ready({n: 1 for n in MODELS})
        s.serving_dir = serving_dir
        yield s


@pytest.fixture(scope="module")
def rows(taxi_sample, models):
    names = ServableModel(models["taxi-keras"]).feature_names
    frame = pd.read_csv(taxi_sample).iloc[100:120]
    return {c: [None if pd.isna(v) else v for v in frame[c]] for c in names}


def instances(rows):
    return [{n: rows[n][i] for n in rows} for i in range(len(next(iter(rows.values()))))]


def test_status_and_metadata(server, rows):
    for name in MODELS:
        for path in (f"/v1/models/{name}", f"/v1/models/{name}/versions/1"):
            status, body = server.get(path)
            assert status == 200
            assert body["model_version_status"] == [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
        status, body = server.get(f"/v1/models/{name}/metadata")
        assert status == 200 and body["model_spec"] == {"name": name, "signature_name": "", "version": "1"}
        signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert set(signature["inputs"]) == set(rows)
        assert signature["inputs"]["payment_type"]["dtype"] == "DT_STRING"
        assert signature["outputs"]["probabilities"]["tensor_shape"]["dim"][1]["size"] == "2"


@pytest.mark.parametrize("name", MODELS)
def test_predictions_match_the_in_process_model(server, models, rows, name):
    expected = ServableModel(models[name]).predict(rows)
    status, body = server.post(f"/v1/models/{name}:predict", {"instances": instances(rows)})
    assert status == 200 and np.abs(np.array(body["predictions"]) - expected).max() < 1e-5
    status, body = server.post(f"/v1/models/{name}/versions/1:predict", {"inputs": rows})
    assert status == 200 and np.abs(np.array(body["outputs"]) - expected).max() < 1e-5
    status, body = server.post(f"/v1/models/{name}:classify",
                               {"examples": instances(rows)[:3], "signature_name": "serving_default"})
    assert status == 200
    assert [[label for label, _ in r] for r in body["result"]] == [["0", "1"]] * 3
    assert np.abs(np.array([[p for _, p in r] for r in body["result"]]) - expected[:3]).max() < 1e-5
    # context + examples, as TF Serving's classify API allows
    context = {"payment_type": rows["payment_type"][0]}
    one = {k: v for k, v in instances(rows)[0].items() if k != "payment_type"}
    status, body = server.post(f"/v1/models/{name}:classify", {"context": context, "examples": [one]})
    assert status == 200 and abs(body["result"][0][1][1] - expected[0][1]) < 1e-5


def test_keras_predictions_are_the_exported_signatures(models, rows):
    """Serving calls the signature through packed inputs; it must give what calling the
    exported signature by keyword (as a TF user would) gives."""
    import tensorflow as tf

    from serving.model_format import raw_features

    model = ServableModel(models["taxi-keras"])
    signature = tf.saved_model.load(str(model.path)).signatures["serving_default"]
    expected = signature(**raw_features.to_tensors(rows, model._raw_spec))["probabilities"].numpy()
    assert np.abs(model.predict(rows) - expected).max() < 1e-6


def test_torch_predictions_are_tft_transform_then_torchscript(models, rows):
    """The PyTorch path runs the transform as one traced function; it must give what TFT's
    own (eager) transform followed by the TorchScript model gives."""
    import tensorflow_transform as tft
    import torch

    from serving.model_format import raw_features

    model = ServableModel(models["taxi-torch"])
    transform = tft.TFTransformOutput(str(model.path / "transform"))
    spec = transform.raw_feature_spec()
    inputs = raw_features.to_transform_inputs(raw_features.to_tensors(rows, spec), spec)
    transformed = transform.transform_raw_features(inputs, drop_unused_features=True)
    columns = model.layout.columns({k: v.numpy() for k, v in transformed.items()})
    with torch.no_grad():
        scripted = torch.jit.load(str(model.path / "model.pt"))
        expected = scripted(*(torch.from_numpy(columns[n]) for n in model.layout.input_names)).numpy()
    assert np.abs(model.predict(rows) - expected).max() < 1e-6


def test_malformed_requests_get_errors_and_the_server_keeps_serving(server, rows):
    good = instances(rows)[0]
    cases = [
        ("/v1/models/taxi-keras:predict", b"{not json", 400),
        ("/v1/models/taxi-keras:predict", {"instance": [good]}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [good], "inputs": rows}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": []}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [{**good, "fare": "cheap"}]}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [{**good, "payment_type": 3}]}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [{k: v for k, v in good.items() if k != "fare"}]}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [{**good, "tips": 1.0}]}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [{**good, "fare": None}]}, 400),
        ("/v1/models/taxi-keras:predict", {"inputs": {**rows, "fare": rows["fare"][:3]}}, 400),
        ("/v1/models/taxi-keras:predict", {"instances": [good], "signature_name": "other"}, 400),
        ("/v1/models/taxi-keras:predict", [good], 400),
        ("/v1/models/taxi-keras:regress", {"examples": [good]}, 400),
        ("/v1/models/taxi-keras/versions/9:predict", {"instances": [good]}, 404),
        ("/v1/models/taxi-keras/versions/x:predict", {"instances": [good]}, 404),
        ("/v1/models/taxi-keras/labels/stable:predict", {"instances": [good]}, 404),
        ("/v1/models/no-such-model:predict", {"instances": [good]}, 404),
        ("/v1/models/..%2F..%2Fetc:predict", {"instances": [good]}, 404),
        ("/v1/models/taxi-keras:explode", {"instances": [good]}, 404),
    ]
    for path, body, expected in cases:
        status, answer = server.post(path, body)
        assert status == expected, (path, body, answer)
        assert isinstance(answer.get("error"), str) and answer["error"], (path, answer)
    status, answer = server.get("/v1/models/no-such-model")
    assert status == 404 and "error" in answer
    status, body = server.post("/v1/models/taxi-keras:predict", {"instances": [good]})
    assert status == 200 and len(body["predictions"]) == 1


def test_oversized_body_is_refused_with_413(server, rows):
    big = {"instances": instances(rows) * 200}
    status, answer = server.post("/v1/models/taxi-keras:predict", big)
    assert status == 413 and "exceeds" in answer["error"]
    assert server.post("/v1/models/taxi-keras:predict", {"instances": instances(rows)[:1]})[0] == 200


def test_health_and_prometheus_metrics(server):
    import urllib.request

    assert server.get("/healthz") == (200, {"status": "ok"})
    assert server.get("/readyz")[0] == 200
    text = urllib.request.urlopen(server.url + "/metrics").read().decode()
    assert 'sluice_requests_total{api="predict",code="200",model="taxi-keras",version="1"}' in text
    assert 'sluice_request_latency_seconds_bucket{api="predict",le="0.01",model="taxi-keras",version="1"}' in text


def swap_and_roll_back_under(client, stop: threading.Event, server, models) -> None:
    """Four client threads run while the torch model is pushed over taxi-keras (version
    2) and then rolled back (version 1 serves again)."""
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        push_target.push(models["taxi-torch"], server.serving_dir, "taxi-keras", {"model_uri": "torch"})
        server.wait_ready({"taxi-keras": 2}, timeout=120)
        time.sleep(1)
        push_target.roll_back(server.serving_dir, "taxi-keras")
        server.wait_ready({"taxi-keras": 1}, timeout=120)
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_hot_swap_under_load_then_rollback(server, models, rows):
    """A new version pushed while clients send requests is swapped in with no failed
    request; rolling back swaps the old one in the same way."""
    keras_expected = ServableModel(models["taxi-keras"]).predict(rows)
    torch_expected = ServableModel(models["taxi-torch"]).predict(rows)
    answers, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            answers.append(server.post("/v1/models/taxi-keras:predict", {"inputs": rows}))

    swap_and_roll_back_under(client, stop, server, models)
    assert len(answers) > 20
    assert [s for s, _ in answers if s != 200] == []
    served = [np.array(body["outputs"]) for _, body in answers]
    saw_torch = [np.abs(p - torch_expected).max() < 1e-5 for p in served]
    saw_keras = [np.abs(p - keras_expected).max() < 1e-5 for p in served]
    assert all(k or t for k, t in zip(saw_keras, saw_torch))
    assert any(saw_torch) and saw_keras[0] and saw_keras[-1]
    assert push_target.rolled_back(server.serving_dir, "taxi-keras") == [2]


def test_a_server_started_ahead_serves_what_is_pushed_after_and_is_replaced_if_it_died(models, rows):
    """serving.server.standby: the server `sluice run` starts when training begins loads
    the candidates pushed into its empty scratch dir later; one that died waiting is not
    handed over (a new one is), and nothing of either is left behind."""
    from serving.server import standby

    standby.start_ahead(("torch",))
    with standby.take(("torch",)) as scratch:
        assert scratch.ahead and scratch.alive() and standby._ahead is None
        push_target.push(models["taxi-torch"], scratch.serving_dir, "candidate", {"model_uri": "x"})
        scratch.server.wait_ready({"candidate": 1}, 120)
        status, body = scratch.server.post("/v1/models/candidate:predict", {"instances": instances(rows)[:3]})
        assert status == 200 and len(body["predictions"]) == 3
    assert not scratch.scratch.exists() and not scratch.alive()

    standby.start_ahead(("keras",))
    died = standby._ahead
    died.server.process.kill()
    died.server.process.wait()
    with standby.take(("keras",)) as fresh:
        assert fresh is not died and not fresh.ahead and fresh.alive()
        assert not died.scratch.exists()
    standby.start_ahead()
    waiting = standby._ahead
    standby.discard()
    assert standby._ahead is None and not waiting.alive() and not waiting.scratch.exists()


def test_a_loaded_model_is_frozen_out_of_full_collections_and_a_dropped_one_is_collected(models, tmp_path):
    """serving.server.frozen_heap: after a version loads, the heap is frozen (a full
    collection no longer walks the model's objects: 0.22 s with the GIL held, every few
    seconds under the request log). A replaced version's graph, which lives in reference
    cycles, is collected at the next look at the serving dir, not kept frozen for ever."""
    import gc

    from serving.server.repository import ModelRepository

    def graph_operations() -> int:  # TF graph ops alive, frozen or not
        gc.unfreeze()
        count = sum(type(o).__name__ == "Operation" for o in gc.get_objects())
        gc.freeze()
        return count

    serving_dir = tmp_path / "serving"
    push_target.push(models["taxi-keras"], serving_dir, "m", {"model_uri": "v1"})
    repository = ModelRepository(serving_dir)
    gc.collect()
    before = graph_operations()  # other tests' models, in this process
    try:
        repository.refresh()
        assert repository.served("m").version == 1 and gc.get_freeze_count() > 100_000
        one = graph_operations() - before
        push_target.push(models["taxi-keras"], serving_dir, "m", {"model_uri": "v2"})
        repository.refresh()
        assert repository.served("m").version == 2
        assert graph_operations() - before > 1.5 * one  # both versions' graphs, until the next look
        repository.refresh()
        assert graph_operations() - before < 1.2 * one, "the replaced version's graph is still alive (frozen?)"
    finally:
        gc.unfreeze()
