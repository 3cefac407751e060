"""The model gate, identical for Keras and PyTorch.

The candidate is loaded as it will serve (serving.model_format.model), predicts on the raw eval
split, and components.metrics scores it overall and per slice. Blessing needs every
absolute threshold, every slice threshold (if configured), AND no regression beyond
the tolerance against the baseline: the version serving when the pipeline was built,
a declared input (components.baseline), re-scored on the same eval data; none on the
first run. The blessing records which version it was judged against, so the pusher
can refuse to reuse it once another version serves.
"""

import json
from pathlib import Path

import numpy as np
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelBlessing, TransformGraph

from components import baseline as baseline_input
from components import metrics, tfx_layout
from components.step_reports import Kept
from pipelines.definition.config import ModelGate, from_parameter
from serving.model_format.layout import LABEL_KEY
from serving.model_format.model import ServableModel

EVALUATION_FILE = "evaluation.json"
SAMPLES_FILE = "samples.json"  # eval rows + the gate's predictions, replayed by infra validation
SAMPLE_ROWS = 32
PREDICTIONS_FILE = "predictions.npz"  # labels + probabilities, for the run report's curves
PREDICTION_ROWS = 20_000  # at most, so the file stays small on large data


def read_raw_split(examples_uri: str, split: str, columns, batch_rows: int = 16384) -> dict[str, list]:
    """Raw columns of one ExampleGen split; None where a value is missing. Decoded in
    bulk by tfx_bsl's C++ Example decoder into Arrow batches, not one protobuf per row
    in Python (what the model gate spent most of its time on at scale)."""
    import tensorflow as tf

    files = tfx_layout.example_files(examples_uri, split)
    out: dict[str, list] = {c: [] for c in columns}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(batch_rows)
    for records in dataset.as_numpy_iterator():
        batch = _decode(list(records))
        for column in columns:
            if column in batch.schema.names:
                out[column] += first_values(batch.column(column))
            else:
                out[column] += [None] * batch.num_rows
    return out


def _decode(records: list[bytes]):
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    return ExamplesToRecordBatchDecoder().DecodeBatch(records)


def first_values(column) -> list:
    """An Arrow list column -> each row's first value (None where the list is empty or
    null), as Python values like the protobuf's: str for bytes, float, int."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = len(column)
    listed = pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
    if not listed or pa.types.is_null(column.type.value_type):
        return [None] * rows
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy()
    present = lengths > 0
    firsts = column.offsets.to_numpy()[:-1][present]
    values = column.values
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        picked = np.asarray(pc.cast(values, pa.large_string()).to_pylist(), dtype=object)[firsts].tolist()
    else:
        picked = values.to_numpy(zero_copy_only=False)[firsts].tolist()
    result = np.full(rows, None, dtype=object)
    result[present] = picked
    return result.tolist()


def labels_of(raw: dict[str, list], transform_uri: str) -> np.ndarray:
    """The label as Transform computes it, so the gate and training agree."""
    import tensorflow_transform as tft

    from serving.model_format import raw_features

    output = tft.TFTransformOutput(transform_uri)
    spec = output.raw_feature_spec()
    tensors = raw_features.to_tensors({c: v for c, v in raw.items() if c in spec}, spec)
    inputs = raw_features.to_transform_inputs(tensors, spec)
    return output.transform_raw_features(inputs, drop_unused_features=True)[LABEL_KEY].numpy()


def evaluate_model(model: ServableModel, raw, labels, slice_columns) -> tuple[dict, np.ndarray]:
    probs = model.predict(raw)
    slices = {c: np.array(raw[c], object) for c in slice_columns}
    return metrics.compute_sliced(labels, probs, slices), probs


def eval_rows(examples_uri: str, transform_uri: str, columns) -> tuple[dict, np.ndarray]:
    """The raw eval split (these columns) and its labels as Transform computes them."""
    raw = read_raw_split(examples_uri, "eval", list(dict.fromkeys(columns)))
    return raw, labels_of(raw, transform_uri)


def judge_against(candidate: dict, champion_model: ServableModel | None, version: int, raw,
                  labels, model_gate: ModelGate) -> tuple[bool, list[str], dict | None]:
    """The blessing rule for candidate metrics ({overall, slices}) against the version
    serving (re-scored on these eval rows; none when version is 0).
    -> (blessed, reasons, the champion's report or None)."""
    champion = None
    if version:
        scored = evaluate_model(champion_model, raw, labels, [])[0]
        champion = {"version": version, "path": str(champion_model.path),
                    "metrics": scored["overall"]}
    gate = model_gate.gate
    blessed, reasons = metrics.judge(
        candidate["overall"], champion and champion["metrics"], gate.thresholds,
        gate.max_regression, baseline_name=f"champion v{version}",
    )
    slices_ok, slice_reasons, _ = metrics.judge_slices(
        candidate["slices"], gate.slice_thresholds, gate.min_slice_examples)
    return blessed and slices_ok, reasons + slice_reasons, champion


def gate_columns(model: ServableModel, model_gate: ModelGate) -> list[str]:
    return [*model.feature_names, *model_gate.label_columns, *model_gate.slices]


@component
def evaluate(
    model: InputArtifact[Model],
    examples: InputArtifact[Examples],
    transform_graph: InputArtifact[TransformGraph],
    baseline: InputArtifact[Model],
    blessing: OutputArtifact[ModelBlessing],
    gate: Parameter[str],  # a ModelGate as JSON
):
    """Scores the candidate and the baseline on the eval split; writes the blessing."""
    model_gate = from_parameter(ModelGate, gate)
    candidate_model = ServableModel(tfx_layout.serving_model_dir(model.uri))
    version = baseline_input.version_of(baseline)
    champion_model = ServableModel(baseline.uri) if version else None
    columns = gate_columns(candidate_model, model_gate)
    columns += champion_model.feature_names if champion_model else []
    raw, labels = eval_rows(examples.uri, transform_graph.uri, columns)
    candidate, probs = evaluate_model(candidate_model, raw, labels, model_gate.slices)
    blessed, reasons, champion = judge_against(candidate, champion_model, version, raw, labels,
                                               model_gate)
    report = {
        "framework": candidate_model.layout.framework,
        "blessed": blessed,
        "reasons": reasons,
        "metrics": candidate,
        "baseline_version": version,
        "champion": champion,
        "primary_metric": model_gate.gate.primary_metric,
    }
    Path(blessing.uri, EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    Path(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED").touch()
    samples = {"rows": {n: raw[n][:SAMPLE_ROWS] for n in candidate_model.feature_names},
               "probabilities": probs[:SAMPLE_ROWS].tolist()}
    Path(blessing.uri, SAMPLES_FILE).write_text(json.dumps(samples))
    np.savez_compressed(Path(blessing.uri, PREDICTIONS_FILE),
                        labels=labels[:PREDICTION_ROWS], probabilities=probs[:PREDICTION_ROWS])
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_int_custom_property("baseline_version", version)
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_string_custom_property("framework", report["framework"])
    for name, value in candidate["overall"].items():
        if not metrics.undefined(value):  # ML Metadata rejects NaN
            blessing.set_float_custom_property(name, value)


def read_evaluation(blessing_uri: str) -> dict:
    return json.loads(Path(blessing_uri, EVALUATION_FILE).read_text())


def read_predictions(blessing_uri: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, probabilities) the gate scored, or None for a blessing made before."""
    path = Path(blessing_uri, PREDICTIONS_FILE)
    if not path.exists():
        return None
    with np.load(path) as found:
        return found["labels"], found["probabilities"]


def read_samples(blessing_uri: str) -> dict:
    return json.loads(Path(blessing_uri, SAMPLES_FILE).read_text())


# What this step reports (components.step_reports).
def figures(step) -> dict:
    blessing = step.output("blessing")
    props = tfx_layout.custom_properties(blessing) if blessing else {}
    return {k: props[k] for k in ("auc", "accuracy", "loss", "example_count", "blessed",
                                  "baseline_version") if k in props}


def summary(f: dict) -> str:
    if "blessed" not in f:
        return ""
    verdict = "BLESSED" if f["blessed"] else "NOT blessed"
    against = f"v{f['baseline_version']}" if f.get("baseline_version") else "no champion"
    scores = ", ".join(f"{m} {f[m]:.4f}" for m in ("auc", "accuracy") if m in f)
    return f"{scores or 'metrics undefined'} on {int(f['example_count']):,} rows vs {against}: {verdict}"


def kept(step, figures: dict) -> Kept:
    blessing = step.output("blessing")
    if not blessing:
        return Kept()
    framework = step.node_id.removeprefix("evaluate_")
    return Kept(files=[Path(blessing.uri, EVALUATION_FILE)],
                on_pipeline_run={f"{framework}.{k}": float(v) for k, v in figures.items()})
