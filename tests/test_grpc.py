"""TF Serving's gRPC API of `sluice serve`, called with the stubs of the
`tensorflow-serving-api` package (the client TF Serving's users have), against a real
server process serving the Keras and PyTorch models of a real pipeline run."""
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serving.model_format.model import ServableModel
from tests.test_serving import MODELS, models, rows, server, swap_and_roll_back_under  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stub(server):  # noqa: F811
    channel = grpc.insecure_channel(server.grpc_target)
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def predict_request(name, rows, layout, version=None, label=None):  # noqa: F811
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for feature, values in rows.items():
        if layout.raw_features[feature] == "string":
            tensor = tf.make_tensor_proto(["" if v is None else v for v in values], tf.string)
        else:
            tensor = tf.make_tensor_proto([np.nan if v is None else v for v in values], tf.float64)
        request.inputs[feature].CopyFrom(tensor)
    return request


def examples(rows, count):  # noqa: F811
    """tf.Examples of the first rows; a missing value is left out, as TFX writes it."""
    out = []
    for i in range(count):
        example = tf.train.Example()
        for feature, values in rows.items():
            value = values[i]
            if value is None:
                continue
            if isinstance(value, str):
                example.features.feature[feature].bytes_list.value.append(value.encode())
            else:
                example.features.feature[feature].float_list.value.append(value)
        out.append(example)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_predict_and_classify_answer_as_the_model(stub, models, rows, name):  # noqa: F811
    model = ServableModel(models[name])
    expected = model.predict(rows)
    response = stub.Predict(predict_request(name, rows, model.layout), timeout=30)
    assert response.model_spec.name == name and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    got = tf.make_ndarray(response.outputs["probabilities"])
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-5

    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = name
    request.input.example_list.examples.extend(examples(rows, 3))
    result = stub.Classify(request, timeout=30).result
    assert [[c.label for c in r.classes] for r in result.classifications] == [["0", "1"]] * 3
    scores = np.array([[c.score for c in r.classes] for r in result.classifications])
    assert np.abs(scores - expected[:3]).max() < 1e-5


def test_status_and_metadata(server, stub, rows):  # noqa: F811
    status = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(server.grpc_target))
    for name in MODELS:
        answer = status.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(
            model_spec={"name": name}), timeout=30)
        assert [(s.version, s.state, s.status.error_code) for s in answer.model_version_status] == [
            (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)]
        metadata = stub.GetModelMetadata(get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec={"name": name}, metadata_field=["signature_def"]), timeout=30)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        assert metadata.metadata["signature_def"].Unpack(signatures)
        signature = signatures.signature_def["serving_default"]
        assert set(signature.inputs) == set(rows)
        assert signature.inputs["payment_type"].dtype == tf.string.as_datatype_enum
        assert [d.size for d in signature.outputs["probabilities"].tensor_shape.dim] == [-1, 2]
    with pytest.raises(grpc.RpcError) as err:
        status.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "nope"}))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_requests_get_tf_serving_status_codes(stub, models, rows):  # noqa: F811
    layout = ServableModel(models["taxi-keras"]).layout
    good = predict_request("taxi-keras", rows, layout)

    def changed(change):
        request = predict_pb2.PredictRequest()
        request.CopyFrom(good)
        change(request)
        return request

    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "taxi-keras"
    regress.input.example_list.examples.extend(examples(rows, 1))
    cases = [
        (stub.Predict, changed(lambda r: setattr(r.model_spec, "name", "no-such-model")), grpc.StatusCode.NOT_FOUND),
        (stub.Predict, changed(lambda r: r.model_spec.version.__setattr__("value", 9)), grpc.StatusCode.NOT_FOUND),
        (stub.Predict, changed(lambda r: setattr(r.model_spec, "version_label", "stable")), grpc.StatusCode.NOT_FOUND),
        (stub.Predict, changed(lambda r: r.inputs.pop("fare")), grpc.StatusCode.INVALID_ARGUMENT),
        (stub.Predict, changed(lambda r: r.inputs["fare"].CopyFrom(tf.make_tensor_proto(["cheap"] * 20))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.Predict, changed(lambda r: r.inputs["fare"].CopyFrom(tf.make_tensor_proto([1.0] * 3))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.Predict, changed(lambda r: r.inputs["tips"].CopyFrom(tf.make_tensor_proto([1.0] * 20))),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.Predict, changed(lambda r: setattr(r.model_spec, "signature_name", "other")),
         grpc.StatusCode.INVALID_ARGUMENT),
        (stub.Regress, regress, grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for call, request, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            call(request, timeout=30)
        assert err.value.code() == code, (request, err.value.details())
        assert err.value.details()
    assert stub.Predict(good, timeout=30).outputs["probabilities"].tensor_shape.dim[0].size == 20


def test_hot_swap_and_rollback_under_grpc_load(server, stub, models, rows):  # noqa: F811
    """A push and a rollback while gRPC clients call: every call answered, by one
    version or the other."""
    layout = ServableModel(models["taxi-keras"]).layout
    keras_expected = ServableModel(models["taxi-keras"]).predict(rows)
    torch_expected = ServableModel(models["taxi-torch"]).predict(rows)
    request = predict_request("taxi-keras", rows, layout)
    answers, failures, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                response = stub.Predict(request, timeout=60)
                answers.append((response.model_spec.version.value,
                                tf.make_ndarray(response.outputs["probabilities"])))
            except grpc.RpcError as err:
                failures.append(err.code())

    swap_and_roll_back_under(client, stop, server, models)
    assert failures == [] and len(answers) > 20
    for version, got in answers:
        expected = torch_expected if version == 2 else keras_expected
        assert np.abs(got - expected).max() < 1e-5
    assert {v for v, _ in answers} == {1, 2} and answers[-1][0] == 1


@pytest.mark.parametrize("name", MODELS)
def test_no_value_for_a_required_feature_is_refused_alike_on_both_apis(server, stub, models, rows,  # noqa: F811
                                                                      name):
    """fare is always present in the schema: a NaN over gRPC (a float tensor's only way
    to say "missing") is refused as REST refuses null, with the same message."""
    model = ServableModel(models[name])
    assert "fare" in model.layout.required
    few = {feature: values[:2] for feature, values in rows.items()}
    few["fare"] = [few["fare"][0], None]
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(predict_request(name, few, model.layout), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs.fare[1]: 'fare' is required (the schema says it is always present), got NaN" \
        in err.value.details()
    status, body = server.post(f"/v1/models/{name}:predict", {"inputs": few})
    assert status == 400
    assert "inputs.fare[1]: 'fare' is required (the schema says it is always present), got null" \
        in body["error"]


def test_out_of_domain_counted_and_refused_with_strict_inputs(server, stub, models, rows):  # noqa: F811
    """trip_start_hour is an identity feature with 24 buckets: 99 is answered and counted
    per feature by default, and refused alike over REST and gRPC with --strict-inputs,
    for the Keras and the PyTorch model."""
    import urllib.request

    from serving.server.process import ServerProcess

    few = {feature: values[:2] for feature, values in rows.items()}
    few["trip_start_hour"] = [few["trip_start_hour"][0], 99]
    for name in MODELS:
        layout = ServableModel(models[name]).layout
        assert layout.domains["trip_start_hour"]["max"] == 23
        assert server.post(f"/v1/models/{name}:predict", {"inputs": few})[0] == 200
        stub.Predict(predict_request(name, few, layout), timeout=30)
    text = urllib.request.urlopen(server.url + "/metrics").read().decode()
    for name in MODELS:
        line = next(x for x in text.splitlines() if x.startswith("sluice_out_of_domain_values_total{")
                    and f'model="{name}"' in x and 'feature="trip_start_hour"' in x)
        assert float(line.rsplit(" ", 1)[1]) >= 2

    message = "row 1: 'trip_start_hour' = 99"
    with ServerProcess(server.serving_dir, "--strict-inputs") as strict:
        strict.wait_ready({n: 1 for n in MODELS})
        channel = grpc.insecure_channel(strict.grpc_target)
        try:
            for name in MODELS:
                status, body = strict.post(f"/v1/models/{name}:predict", {"inputs": few})
                assert status == 400 and body["error"].startswith(message), body
                assert "is outside its domain, identity ids 0..23" in body["error"]
                with pytest.raises(grpc.RpcError) as err:
                    prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                        predict_request(name, few, ServableModel(models[name]).layout), timeout=30)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert err.value.details() == body["error"]
                ok = {feature: values[:1] for feature, values in rows.items()}
                assert strict.post(f"/v1/models/{name}:predict", {"inputs": ok})[0] == 200
        finally:
            channel.close()
