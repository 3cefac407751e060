"""TensorFlow Serving's REST JSON formats, as published in its API reference
(https://www.tensorflow.org/tfx/serving/api_rest), for sluice's raw-feature models.

Pure functions from request bodies to feature columns and from probabilities to
response bodies; every problem raises RequestError with a message naming the field,
which the server returns as {"error": "..."} with status 400.
"""
from __future__ import annotations

import numbers
from operator import itemgetter

import numpy as np

from serving.model_format.layout import FeatureLayout

SIGNATURE = "serving_default"


class RequestError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _value(layout: FeatureLayout, name: str, value):
    """One feature value: a scalar, a one-element list, or null/[] for missing."""
    if isinstance(value, list):
        if len(value) > 1:
            raise RequestError(f"'{name}' takes one value per example, got {len(value)}")
        value = value[0] if value else None
    missing = value is None or (isinstance(value, float) and value != value)  # null, or NaN
    if missing:
        if name in layout.required:
            raise RequestError(f"'{name}' is required (the schema says it is always present), "
                               f"got {'NaN' if value is not None else 'null'}: send its value")
        return None
    if layout.raw_features[name] == "string":
        if not isinstance(value, str):
            raise RequestError(f"'{name}' must be a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RequestError(f"'{name}' must be a number, got {type(value).__name__} {value!r}")
    return value


def _check_names(layout: FeatureLayout, names, where: str) -> None:
    missing = [n for n in layout.raw_features if n not in names]
    if missing:
        raise RequestError(f"{where}: missing input(s) {', '.join(missing)} (give every input; "
                           "a missing value is null in JSON, NaN or an empty feature over gRPC)")
    unknown = [n for n in names if n not in layout.raw_features]
    if unknown:
        raise RequestError(f"{where}: unknown input(s) {', '.join(unknown)}; "
                           f"the model takes {', '.join(layout.raw_features)}")


def _column(layout: FeatureLayout, name: str, values: list, where) -> list:
    """One feature's values, checked; where(i) names value i in an error message. The
    fast path (every value a plain str, or int/float, or an allowed null) checks types
    only; anything else goes through _value, one call per value."""
    plain = {str} if layout.raw_features[name] == "string" else {int, float}
    required = name in layout.required
    if not required:
        plain.add(type(None))
    found = set(map(type, values))
    # a NaN (gRPC's and the request log's missing value) is no value for a required input
    if found <= plain and not (required and float in found and any(v != v for v in values)):
        return values
    checked = []
    for i, value in enumerate(values):
        try:
            checked.append(_value(layout, name, value))
        except RequestError as err:
            raise RequestError(f"{where(i)}: {err}") from None
    return checked


def rows_to_columns(layout: FeatureLayout, rows, where: str) -> dict[str, list]:
    """[{feature: value}, ...] -> {feature: [values]}."""
    if not isinstance(rows, list):
        raise RequestError(f"'{where}' must be a list of objects")
    if not rows:
        raise RequestError(f"'{where}' is empty")
    names = layout.raw_features.keys()
    if set(map(type, rows)) != {dict} or set(map(len, rows)) != {len(names)}:
        _check_rows(layout, rows, where)
    get = itemgetter(*names) if len(names) > 1 else lambda row: (row[next(iter(names))],)
    try:  # every row has as many inputs as the model takes: a missing one means an unknown one
        by_row = list(map(get, rows))
    except KeyError:
        _check_rows(layout, rows, where)
        raise
    return {n: _column(layout, n, list(values), lambda i: f"{where}[{i}]")
            for n, values in zip(names, zip(*by_row))}


def _check_rows(layout: FeatureLayout, rows: list, where: str) -> None:
    """Raises RequestError for the first row that is not an object of the model's inputs.
    The fast path checks rows' types and sizes in bulk; this names the row at fault."""
    names = layout.raw_features.keys()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(f"{where}[{i}] must be an object of named inputs, got {type(row).__name__}")
        if row.keys() != names:
            _check_names(layout, row, f"{where}[{i}]")


def parse_predict(layout: FeatureLayout, body) -> tuple[dict[str, list], bool]:
    """A :predict body -> (columns, columnar?)."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    _check_signature(body)
    if ("instances" in body) == ("inputs" in body):
        raise RequestError("request must contain exactly one of 'instances' (row format) "
                           "or 'inputs' (columnar format)")
    if "instances" in body:
        return rows_to_columns(layout, body["instances"], "instances"), False
    inputs = body["inputs"]
    if not isinstance(inputs, dict):
        raise RequestError("'inputs' must be an object of named inputs, one list per input")
    _check_names(layout, inputs, "inputs")
    lengths = {n: len(v) if isinstance(v, list) else None for n, v in inputs.items()}
    if None in lengths.values():
        raise RequestError(f"inputs: '{next(n for n, k in lengths.items() if k is None)}' must be a list")
    if len(set(lengths.values())) != 1:
        raise RequestError(f"inputs: every input needs the same number of values, got {lengths}")
    if not next(iter(lengths.values())):
        raise RequestError("'inputs' is empty")
    columns = {n: _column(layout, n, inputs[n], lambda i, n=n: f"inputs.{n}[{i}]")
               for n in layout.raw_features}
    return columns, True


def parse_classify(layout: FeatureLayout, body) -> dict[str, list]:
    """A :classify / :regress body: {"examples": [...], "context": {...}} -> columns."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    _check_signature(body)
    if "examples" not in body:
        raise RequestError("request must contain 'examples'")
    context = body.get("context", {})
    if not isinstance(context, dict):
        raise RequestError("'context' must be an object")
    examples = body["examples"]
    if isinstance(examples, list):
        examples = [{**context, **e} if isinstance(e, dict) else e for e in examples]
    return rows_to_columns(layout, examples, "examples")


def _check_signature(body: dict) -> None:
    name = body.get("signature_name", SIGNATURE)
    if name != SIGNATURE:
        raise RequestError(f"signature_name '{name}' not found; the model has '{SIGNATURE}'")


def predict_response(probs: np.ndarray, columnar: bool) -> dict:
    """One named output: rows are its values (row format) or it is the value (columnar)."""
    values = probs.tolist()
    return {"outputs": values} if columnar else {"predictions": values}


def regress_response(values: np.ndarray) -> dict:
    """TF Serving's :regress answer: one number per example."""
    return {"result": values[:, 0].tolist()}


def classify_response(layout: FeatureLayout, probs: np.ndarray) -> dict:
    return {"result": [[[c, p] for c, p in zip(layout.classes, row)] for row in probs.tolist()]}


def status_response(versions: list[tuple[int, str, str]]) -> dict:
    """[(version, state, error)] -> GetModelStatus JSON (int64 versions as strings)."""
    return {"model_version_status": [
        {"version": str(v), "state": state,
         "status": {"error_code": "UNKNOWN" if error else "OK", "error_message": error}}
        for v, state, error in versions
    ]}


def metadata_response(name: str, version: int, layout: FeatureLayout) -> dict:
    """GetModelMetadata JSON: the serving_default signature, raw features in."""
    def tensor(key: str, dtype: str, dims: list[int]) -> dict:
        return {"dtype": dtype, "name": f"serving_default_{key}:0",
                "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                 "unknown_rank": False}}

    inputs = {n: tensor(n, "DT_STRING" if kind == "string" else "DT_DOUBLE", [-1])
              for n, kind in layout.raw_features.items()}
    outputs = {layout.output_key: tensor(layout.output_key, "DT_FLOAT", [-1, layout.output_width])}
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {SIGNATURE: {
            "inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict",
        }}}},
    }
