"""Training-serving skew: what a model was asked (rows of its request log, of a file
it scored, or any CSV of served rows) against the data it was trained on.

- TFDV statistics of the served rows, and the schema's anomalies in the SERVING
  environment (the label is not expected there);
- per feature, the drift gate's measures (components.gates.drift) against the training
  split's statistics: L-infinity for categorical features, Jensen-Shannon divergence on
  the training data's deciles for the others, with the config's drift bounds;
- the shift of the predictions: the served rows' predicted probability of the positive
  class (or value, or the top class's probability for multiclass) against the gate's
  predictions on the eval split, as the Jensen-Shannon divergence over the eval
  predictions' deciles, bounded by the config's numeric drift bound.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from components.gates import drift

PREDICTION = "prediction (model output)"


@dataclass
class SkewReport:
    rows: int
    features: list[dict]  # drift.measure rows, the crossed ones first
    anomalies: dict[str, str]  # feature -> TFDV's description
    prediction: dict  # {measure, value, threshold, drifted}
    served_statistics: object = None
    training_statistics: object = None
    served_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def crossed(self) -> list[str]:
        names = [r["feature"] for r in self.features if r["drifted"]]
        names += [f for f in self.anomalies if f not in names]
        return names + ([PREDICTION] if self.prediction.get("drifted") else [])


def score_of(answers: np.ndarray) -> np.ndarray:
    """One number per row to compare: the positive class's probability (binary), the
    top class's (multiclass), or the value (regression)."""
    answers = np.asarray(answers, np.float64)
    if answers.ndim == 1 or answers.shape[1] == 1:
        return answers.reshape(-1)
    return answers[:, 1] if answers.shape[1] == 2 else answers.max(axis=1)


def binned_jsd(reference: np.ndarray, new: np.ndarray, bins: int = 10) -> float:
    """Jensen-Shannon divergence (base 2) over bins cut at the reference's quantiles."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(new, edges[0]) else 1.0
    inner = edges[1:-1]
    p = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1) / len(reference)
    q = np.bincount(np.searchsorted(inner, new, side="right"), minlength=len(edges) - 1) / len(new)
    return drift.jensen_shannon(p, q)


def serving_schema(schema_path: str, served: list[str]):
    """The curated schema with a SERVING environment that expects only the model's raw
    features (the label, and columns only the pipeline reads, are not sent to a model)."""
    import tensorflow_data_validation as tfdv

    schema = tfdv.load_schema_text(schema_path)
    for environment in ("TRAINING", "SERVING"):
        if environment not in schema.default_environment:
            schema.default_environment.append(environment)
    for feature in schema.feature:
        if feature.name not in served and "SERVING" not in feature.not_in_environment:
            feature.not_in_environment.append("SERVING")
    return schema


def typed_for_schema(frame, schema_path: str):
    """Numbers in the columns the schema types INT as integers (nullable), so TFDV sees
    the type it was trained on; the others as they are."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = tfdv.load_schema_text(schema_path)
    frame = frame.copy()
    for feature in schema.feature:
        if feature.type == schema_pb2.INT and feature.name in frame.columns:
            column = frame[feature.name]
            if column.dtype.kind == "f" and np.all(np.isnan(column) | (column == np.round(column))):
                frame[feature.name] = column.astype("Int64")
    return frame


def frame_statistics(frame, schema_path: str):
    """TFDV statistics of rows in memory, typed as the schema types them."""
    import tensorflow_data_validation as tfdv

    return tfdv.generate_statistics_from_dataframe(typed_for_schema(frame, schema_path))


def measure(frame, statistics_uri: str, schema_path: str,
            bounds: dict[str, tuple[str, float]], served_answers: np.ndarray,
            eval_answers: np.ndarray | None, prediction_bound: float) -> SkewReport:
    import tensorflow_data_validation as tfdv

    served = frame_statistics(frame, schema_path)
    trained = drift.train_statistics(statistics_uri)
    schema = serving_schema(schema_path, list(frame.columns))
    found = tfdv.validate_statistics(served, schema, environment="SERVING")
    anomalies = {name: info.description or info.short_description
                 for name, info in found.anomaly_info.items()}
    features = drift.measure_statistics(served, trained, schema_path,
                                        {f: b for f, b in bounds.items() if f in frame.columns},
                                        "the champion's training data")
    served_scores = score_of(served_answers)
    eval_scores = score_of(eval_answers) if eval_answers is not None else np.zeros(0)
    prediction = {"feature": PREDICTION, "measure": drift.JENSEN_SHANNON, "threshold": prediction_bound}
    if len(eval_scores) and len(served_scores):
        value = binned_jsd(eval_scores, served_scores)
        prediction.update(value=value, drifted=value > prediction_bound)
    else:
        prediction.update(value=float("nan"), drifted=False)
    return SkewReport(len(frame), features, anomalies, prediction, served, trained, served_scores, eval_scores)
