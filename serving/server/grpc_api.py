"""TensorFlow Serving's gRPC API beside the REST one, over the same models:
tensorflow.serving.PredictionService (Predict, Classify, Regress, GetModelMetadata) and
ModelService (GetModelStatus), as the `tensorflow-serving-api` stubs call them.

Requests are decoded into the REST API's JSON shapes and checked by the same code
(serving.server.tf_serving_json), resolved by the REST server's model repository,
version policy and labels, and answered through its batcher, so a gRPC and a REST
request of the same rows get the same answer and share model calls. gRPC's own server
runs the handlers on a thread pool; each hands its rows to the batcher on the REST
server's event loop and waits for the answer. Errors carry TF Serving's status codes:
INVALID_ARGUMENT for a bad request, NOT_FOUND for an unknown model, version or label.
"""
from __future__ import annotations

import logging
import time

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serving.server import tf_serving_json as api

log = logging.getLogger("sluice.serving")
CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
         413: grpc.StatusCode.RESOURCE_EXHAUSTED}
STATES = {"AVAILABLE": get_model_status_pb2.ModelVersionStatus.AVAILABLE,
          "LOADING": get_model_status_pb2.ModelVersionStatus.LOADING,
          "END": get_model_status_pb2.ModelVersionStatus.END}
NUMBER_FIELDS = {types_pb2.DT_FLOAT: ("float_val", np.float32), types_pb2.DT_DOUBLE: ("double_val", np.float64),
                 types_pb2.DT_INT32: ("int_val", np.int32), types_pb2.DT_INT64: ("int64_val", np.int64),
                 types_pb2.DT_INT16: ("int_val", np.int16), types_pb2.DT_INT8: ("int_val", np.int8)}


def decode_tensor(name: str, tensor: tensor_pb2.TensorProto) -> list:
    """A TensorProto of shape [rows] or [rows, 1] -> its values as Python values, as
    JSON would bring them (text as str, numbers as int or float)."""
    dims = [d.size for d in tensor.tensor_shape.dim]
    if len(dims) > 2 or (len(dims) == 2 and dims[1] != 1):
        raise api.RequestError(f"inputs: '{name}' must have shape [rows] or [rows, 1], got {dims}")
    if tensor.dtype == types_pb2.DT_STRING:
        try:
            return [v.decode("utf-8") for v in tensor.string_val]
        except UnicodeDecodeError:
            raise api.RequestError(f"inputs: '{name}' holds bytes that are not UTF-8 text") from None
    if tensor.dtype not in NUMBER_FIELDS:
        raise api.RequestError(f"inputs: '{name}' has dtype {types_pb2.DataType.Name(tensor.dtype)}; "
                               "send DT_STRING text or numbers (DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64)")
    field, dtype = NUMBER_FIELDS[tensor.dtype]
    values = (np.frombuffer(tensor.tensor_content, dtype).tolist() if tensor.tensor_content
              else list(getattr(tensor, field)))  # no numpy for the few values of a request: ~10x faster
    rows = dims[0] if dims else len(values)
    if len(values) == 1 and rows > 1:  # TF's make_tensor_proto writes one value for a fill
        values = values * rows
    if len(values) != rows:
        raise api.RequestError(f"inputs: '{name}' has {len(values)} values for shape {dims}")
    return values


def float_tensor(values: np.ndarray) -> tensor_pb2.TensorProto:
    values = np.ascontiguousarray(values, np.float32)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s)
                                                   for s in values.shape])
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape,
                                  tensor_content=values.tobytes())


def example_row(example) -> dict:
    """A tf.Example -> {feature: value}: one value as itself, none as null (missing),
    several as a list (refused by the shared checks)."""
    row = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if kind == "bytes_list":
            values = [v.decode("utf-8", "replace") for v in values]
        row[name] = None if not values else values[0] if len(values) == 1 else values
    return row


class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer,
               model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server):
        self.server = server  # the REST ModelServer: repository, batcher, metrics, log

    # -- the calls -------------------------------------------------------------------
    async def Predict(self, request, context):
        return await self._answer("predict", request.model_spec, context,
                                  lambda loaded: self._predict(loaded, request))

    async def Classify(self, request, context):
        return await self._answer("classify", request.model_spec, context,
                                  lambda loaded: self._classify(loaded, request, regress=False))

    async def Regress(self, request, context):
        return await self._answer("regress", request.model_spec, context,
                                  lambda loaded: self._classify(loaded, request, regress=True))

    async def GetModelMetadata(self, request, context):
        return await self._answer("metadata", request.model_spec, context,
                                  lambda loaded: self._metadata(loaded, request))

    async def GetModelStatus(self, request, context):
        return await self._answer("status", None, context, lambda _: self._status(request))

    # -- shared ------------------------------------------------------------------------
    async def _answer(self, api_name: str, spec, context, work):
        started, loaded, code = time.perf_counter(), None, grpc.StatusCode.OK
        try:
            if spec is not None:
                loaded = self._resolve(spec)
            return await work(loaded)
        except api.RequestError as err:
            code, message = CODES.get(err.status, grpc.StatusCode.INVALID_ARGUMENT), str(err)
        except Exception as err:  # the model failed: report, keep serving
            log.exception("gRPC %s failed", api_name)
            code, message = grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"
        finally:
            name = spec.name if spec is not None else "?"
            version = str(loaded.version) if loaded else ""
            self.server.metrics.requests.labels(name, version, f"grpc_{api_name}", code.name).inc()
            self.server.metrics.latency.labels(name, version, f"grpc_{api_name}").observe(
                time.perf_counter() - started)
        await context.abort(code, message)

    def _resolve(self, spec):
        version = str(spec.version.value) if spec.HasField("version") else None
        label = spec.version_label or None
        if not spec.name:
            raise api.RequestError("model_spec.name is empty", 400)
        if spec.signature_name not in ("", api.SIGNATURE):
            raise api.RequestError(f"signature_name '{spec.signature_name}' not found; the model "
                                   f"has '{api.SIGNATURE}'")
        return self.server.resolve(spec.name, version, label)

    def _spec(self, loaded, target) -> None:
        target.name = loaded.name
        target.version.value = loaded.version
        target.signature_name = api.SIGNATURE

    async def _model_call(self, loaded, columns: dict[str, list]) -> np.ndarray:
        return await self.server.score(loaded, columns, len(next(iter(columns.values()))))

    # -- per call ------------------------------------------------------------------------
    async def _predict(self, loaded, request):
        layout = loaded.model.layout
        if request.output_filter and set(request.output_filter) != {layout.output_key}:
            raise api.RequestError(f"output_filter {list(request.output_filter)}: the model's one "
                                   f"output is '{layout.output_key}'")
        inputs = {name: decode_tensor(name, tensor) for name, tensor in request.inputs.items()}
        columns, _ = api.parse_predict(layout, {"inputs": inputs})
        answers = await self._model_call(loaded, columns)
        response = predict_pb2.PredictResponse()
        self._spec(loaded, response.model_spec)
        response.outputs[layout.output_key].CopyFrom(float_tensor(answers))
        return response

    async def _classify(self, loaded, request, regress: bool):
        layout = loaded.model.layout
        if regress and not layout.regression:
            raise api.RequestError(f"model {loaded.name} is a {layout.task} classifier: use "
                                   "Classify or Predict, not Regress")
        if not regress and layout.regression:
            raise api.RequestError(f"model {loaded.name} is a regression model: use Regress or "
                                   "Predict, not Classify")
        kind = request.input.WhichOneof("kind")
        if kind is None:
            raise api.RequestError("input holds no example_list or example_list_with_context")
        holder = getattr(request.input, kind)
        context = example_row(holder.context) if kind == "example_list_with_context" else {}
        absent = dict.fromkeys(layout.raw_features)  # a tf.Example leaves a missing value out
        body = {"examples": [{**absent, **context, **example_row(e)} for e in holder.examples]}
        columns = api.parse_classify(layout, body)
        answers = await self._model_call(loaded, columns)
        if regress:
            response = regression_pb2.RegressionResponse()
            response.result.regressions.extend(
                regression_pb2.Regression(value=float(v)) for v in answers[:, 0])
        else:
            response = classification_pb2.ClassificationResponse()
            for row in answers.tolist():
                response.result.classifications.add().classes.extend(
                    classification_pb2.Class(label=c, score=p) for c, p in zip(layout.classes, row))
        self._spec(loaded, response.model_spec)
        return response

    async def _metadata(self, loaded, request):
        if list(request.metadata_field) != ["signature_def"]:
            raise api.RequestError(f"metadata_field must be ['signature_def'], got "
                                   f"{list(request.metadata_field)}")
        layout = loaded.model.layout
        signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
        for name, kind in layout.raw_features.items():
            signature.inputs[name].CopyFrom(_tensor_info(
                f"serving_default_{name}:0", types_pb2.DT_STRING if kind == "string" else types_pb2.DT_DOUBLE, [-1]))
        signature.outputs[layout.output_key].CopyFrom(_tensor_info(
            f"serving_default_{layout.output_key}:0", types_pb2.DT_FLOAT, [-1, layout.output_width]))
        signatures = get_model_metadata_pb2.SignatureDefMap()
        signatures.signature_def[api.SIGNATURE].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        self._spec(loaded, response.model_spec)
        response.metadata["signature_def"].Pack(signatures)
        return response

    async def _status(self, request):
        spec = request.model_spec
        version = str(spec.version.value) if spec.HasField("version") else None
        rows = self.server.status_rows(spec.name, version, spec.version_label or None)
        response = get_model_status_pb2.GetModelStatusResponse()
        for number, state, error in rows:
            status = response.model_version_status.add(version=number, state=STATES[state])
            status.status.error_code = 2 if error else 0  # tensorflow.error.UNKNOWN / OK
            status.status.error_message = error
        return response


def _tensor_info(name: str, dtype: int, dims: list[int]) -> meta_graph_pb2.TensorInfo:
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
    return meta_graph_pb2.TensorInfo(name=name, dtype=dtype, tensor_shape=shape)


async def start(model_server, host: str, port: int, max_message_bytes: int) -> grpc.aio.Server:
    """gRPC's asyncio server on the REST server's event loop: handlers hand their rows
    to the batcher directly, with no thread in between."""
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max(max_message_bytes, 64 * 2**20)),
        ("grpc.so_reuseport", 0)])
    servicer = Servicer(model_server)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
    try:
        server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as err:
        raise RuntimeError(f"gRPC: cannot listen on {host}:{port} ({err}); pass --grpc-port "
                           "(0: no gRPC)") from None
    await server.start()
    log.info("gRPC (TF Serving's PredictionService, ModelService) on %s:%s", host, port)
    return server
