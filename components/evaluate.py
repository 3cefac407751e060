"""The model gate, identical for Keras and PyTorch.

The candidate is loaded as it will serve (serving.model_format.model), predicts on the raw eval
split, and components.gates.metrics scores it overall and per slice. Blessing needs every
absolute threshold, every slice threshold (if configured), AND no regression beyond
the tolerance against the baseline: the version serving when the pipeline was built,
a declared input (components.baseline), re-scored on the same eval data; none on the
first run. The blessing records which version it was judged against, so the pusher
can refuse to reuse it once another version serves.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, Model, ModelBlessing, TransformGraph

from components import baseline as baseline_input
from components.artifacts import tfx_layout
from components.artifacts.evaluation_record import EVALUATION_FILE
from components.artifacts.kept import Kept
from components.gates import metrics, paired_test
from components.gates import reference_eval as reference_eval_module
from serving.model_format.layout import LABEL_KEY
from serving.model_format.model import ServableModel
from sluice_config import step_ids
from sluice_config.config import ModelGate, from_parameter
from trainers import module_contract

SAMPLES_FILE = "samples.json"  # eval rows + the gate's predictions, replayed by infra validation
SAMPLE_ROWS = 32
PREDICTIONS_FILE = "predictions.npz"  # labels + probabilities, for the run report's curves
PREDICTION_ROWS = 20_000  # at most, so the file stays small on large data
EVAL_CHUNK_ROWS = 65_536
METRIC_NAME_UNSAFE = re.compile(r"[^\w.\- ]")  # eval rows held as Python values at a time


def raw_chunks(examples_uri: str, split: str, columns, chunk_rows: int,
               dtypes: dict | None = None) -> Iterator[dict[str, list]]:
    """Raw columns of one ExampleGen split, chunk_rows rows at a time; None where a
    value is missing. Decoded in bulk, not one protobuf per row in Python (what the
    model gate spent most of its time on at scale): by TensorFlow's parser where every
    column's dtype is given (the raw schema's, as Transform parses them), else, or where
    a record holds another kind, by tfx_bsl's decoder, which takes each kind as written."""
    import tensorflow as tf

    files = tfx_layout.example_files(examples_uri, split)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(chunk_rows)
    parsable = dtypes is not None and all(c in dtypes for c in columns)
    for records in dataset.as_numpy_iterator():
        batch = _parsed(records, columns, dtypes) if parsable else None
        if batch is None:
            batch = _decoded(records)
        yield {column: first_values(batch.column(column)) if column in batch.schema.names
               else [None] * batch.num_rows for column in columns}


def read_raw_split(examples_uri: str, split: str, columns, batch_rows: int = 16384,
                   dtypes: dict | None = None) -> dict[str, list]:
    """Raw columns of one ExampleGen split, whole (see raw_chunks)."""
    out: dict[str, list] = {c: [] for c in columns}
    for chunk in raw_chunks(examples_uri, split, columns, batch_rows, dtypes):
        for column in columns:
            out[column] += chunk[column]
    return out


def _decoded(records):
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    return ExamplesToRecordBatchDecoder().DecodeBatch(list(records))


def _parsed(records, columns, dtypes: dict):
    """The columns as Arrow list columns, parsed by tf.io.parse_example (~6x faster than
    tfx_bsl's decoder on the taxi rows), or None where a record holds a column in
    another kind than its dtype. A missing feature and one with no values both parse as
    an empty row: the first value is None either way."""
    import pyarrow as pa
    import tensorflow as tf

    spec = {c: tf.io.RaggedFeature(dtypes[c], row_splits_dtype=tf.int64) for c in columns}
    try:
        parsed = tf.io.parse_example(records, spec)
    except tf.errors.InvalidArgumentError:
        return None
    arrays = [pa.LargeListArray.from_arrays(pa.array(parsed[c].row_splits.numpy()),
                                            pa.array(parsed[c].values.numpy())) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, columns)


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


def labels_of(raw: dict[str, list], transform) -> np.ndarray:
    """The label as Transform (a TFTransformOutput) computes it, so the gate and training
    agree."""
    from serving.model_format import raw_features

    spec = transform.raw_feature_spec()
    tensors = raw_features.to_tensors({c: v for c, v in raw.items() if c in spec}, spec)
    inputs = raw_features.to_transform_inputs(tensors, spec)
    return transform.transform_raw_features(inputs, drop_unused_features=True)[LABEL_KEY].numpy()


@dataclass
class Scored:
    """What the gate needs of the eval split, for every row: labels, each model's
    probabilities, the slice columns; and the first rows' raw columns, as samples."""

    labels: np.ndarray
    probabilities: list[np.ndarray]
    slices: dict[str, np.ndarray]
    first_rows: dict[str, list]


def score_eval_split(examples_uri: str, transform_uri: str, columns, models: list[ServableModel],
                     slice_columns) -> Scored:
    """Labels and every model's predictions on the eval split, EVAL_CHUNK_ROWS rows at a
    time: only one chunk's raw columns are held as Python values (~1.5 KB a taxi row:
    5 GB for the 3.3M eval rows of a 10M-row input), the rest as arrays of a few bytes
    a row."""
    import tensorflow_transform as tft

    transform = tft.TFTransformOutput(transform_uri)
    columns = list(dict.fromkeys([*columns, *slice_columns]))
    labels, slices = [], {c: [] for c in slice_columns}
    probabilities: list[list] = [[] for _ in models]
    first_rows: dict[str, list] = {c: [] for c in columns}
    dtypes = {name: spec.dtype for name, spec in transform.raw_feature_spec().items()}
    for raw in raw_chunks(examples_uri, "eval", columns, EVAL_CHUNK_ROWS, dtypes):
        for column, values in raw.items():
            first_rows[column] += values[:SAMPLE_ROWS - len(first_rows[column])]
        labels.append(labels_of(raw, transform))
        for model, found in zip(models, probabilities):
            found.append(model.predict(raw))
        for column in slice_columns:
            slices[column].append(np.array(raw[column], object))
    if not labels:
        raise ValueError(f"the eval split of {examples_uri} has no rows to judge a model on")
    return Scored(np.concatenate(labels), [np.concatenate(p) for p in probabilities],
                  {c: np.concatenate(v) for c, v in slices.items()}, first_rows)


def judge_against(candidate: dict, candidate_probabilities: np.ndarray,
                  champion_probabilities: np.ndarray | None, champion_path: str,
                  version: int, labels: np.ndarray, model_gate: ModelGate
                  ) -> tuple[bool, list[str], dict | None]:
    """The blessing rule for candidate metrics ({overall, slices}) against the version
    serving (its probabilities on the same eval rows; none when version is 0). The
    champion's report carries the paired test of the primary metric's improvement on
    these rows (components.gates.paired_test), which promotion reads.
    -> (blessed, reasons, the champion's report or None)."""
    champion = None
    gate = model_gate.gate
    if version:
        champion = {"version": version, "path": champion_path,
                    "metrics": metrics.compute(labels, champion_probabilities)}
        if gate.promotion.confidence:
            champion["improvement"] = paired_test.paired_difference(
                gate.primary_metric, labels, candidate_probabilities, champion_probabilities,
                gate.promotion.confidence)
    blessed, reasons = metrics.judge(
        candidate["overall"], champion and champion["metrics"], gate.thresholds,
        gate.max_regression, baseline_name=f"champion v{version}",
    )
    slices_ok, slice_reasons, _ = metrics.judge_slices(
        candidate["slices"], gate.slice_thresholds, gate.min_slice_examples)
    classes_ok, class_reasons = (metrics.judge_per_class(candidate["per_class"], gate.per_class,
                                                         gate.min_class_examples)
                                 if "per_class" in candidate else (True, []))
    return (blessed and slices_ok and classes_ok, reasons + slice_reasons + class_reasons,
            champion)


def judge_on_reference_rows(reference: dict | None, examples_uri: str, transform_uri: str, columns,
                            candidates: list[ServableModel], champion: ServableModel | None,
                            version: int, model_gate: ModelGate) -> list[tuple] | None:
    """Each candidate against the champion on the pinned reference's eval rows
    (components.gates.reference_eval.judge: (ok, reasons, record) each); None where there is
    no champion, no reference, or the reference's rows are these very rows."""
    if champion is None or not reference or reference["examples_uri"] == examples_uri:
        return None
    scored = score_eval_split(reference["examples_uri"], transform_uri, columns, [*candidates, champion], [])
    return [reference_eval_module.judge(scored.labels, probabilities, scored.probabilities[-1], version,
                                        reference, model_gate)
            for probabilities in scored.probabilities[:-1]]


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
    candidate_name: Parameter[str] = "",  # the config's name for it
    reference_eval: Parameter[str] = "",  # the pinned reference's eval rows (components.gates.reference_eval)
):
    """Scores the candidate and the baseline on the eval split; writes the blessing.
    A candidate whose training failed (trainers.module_contract) is not blessed, for
    the reason its training gave."""
    model_gate = from_parameter(ModelGate, gate)
    model_dir = tfx_layout.serving_model_dir(model.uri)
    failure = module_contract.read_failure(model_dir)
    if failure is not None:
        write_failed(blessing, model.uri, failure)
        return
    candidate_model = ServableModel(model_dir)
    version = baseline_input.version_of(baseline)
    champion_model = ServableModel(baseline.uri) if version else None
    columns = gate_columns(candidate_model, model_gate)
    columns += champion_model.feature_names if champion_model else []
    models = [candidate_model, champion_model] if champion_model else [candidate_model]
    scored = score_eval_split(examples.uri, transform_graph.uri, columns, models, model_gate.slices)
    labels, probs = scored.labels, scored.probabilities[0]
    candidate = metrics.compute_sliced(labels, probs, scored.slices, candidate_model.layout.classes)
    blessed, reasons, champion = judge_against(
        candidate, probs, scored.probabilities[1] if champion_model else None,
        str(champion_model.path) if champion_model else "", version, labels, model_gate)
    reference = None
    judged = judge_on_reference_rows(reference_eval_module.parse(reference_eval), examples.uri,
                                     transform_graph.uri, columns, [candidate_model], champion_model,
                                     version, model_gate)
    if judged:
        (ok, more, reference), = judged
        blessed, reasons = blessed and ok, reasons + more
    report = {
        "candidate": candidate_name or candidate_model.layout.candidate,
        "framework": candidate_model.layout.framework,
        "blessed": blessed,
        "reasons": reasons,
        "metrics": candidate,
        "baseline_version": version,
        "champion": champion,
        "primary_metric": model_gate.gate.primary_metric,
        "reference_eval": reference,
    }
    Path(blessing.uri, EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    Path(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED").touch()
    samples = {"rows": {n: scored.first_rows[n] for n in candidate_model.feature_names},
               "probabilities": probs[:SAMPLE_ROWS].tolist()}
    Path(blessing.uri, SAMPLES_FILE).write_text(json.dumps(samples))
    np.savez_compressed(Path(blessing.uri, PREDICTIONS_FILE),
                        labels=labels[:PREDICTION_ROWS], probabilities=probs[:PREDICTION_ROWS])
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_int_custom_property("baseline_version", version)
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_string_custom_property("framework", report["framework"])
    blessing.set_string_custom_property("candidate", report["candidate"])
    if not blessed:
        blessing.set_string_custom_property("failed_checks", failed_checks(reasons))
    for name, value in candidate["overall"].items():
        if not metrics.undefined(value):  # ML Metadata rejects NaN
            blessing.set_float_custom_property(name, value)
    per_class = candidate.get("per_class", {"classes": {}})
    if "macro_f1" in per_class:
        blessing.set_float_custom_property("macro_f1", per_class["macro_f1"])
    for name, scores in per_class["classes"].items():
        safe = METRIC_NAME_UNSAFE.sub("_", name)  # MLflow names: letters, digits, _-. space
        for metric in ("precision", "recall"):
            blessing.set_float_custom_property(f"{metric}.{safe}", scores[metric])


def failed_checks(reasons: list[str], shown: int = 2) -> str:
    """The checks a candidate failed, as the console's NOT blessed line names them: the
    first two, and how many more."""
    failed = [r for r in reasons if r.endswith(("FAILED", "REGRESSED")) or "FAILED:" in r]
    more = f" (+{len(failed) - shown} more)" if len(failed) > shown else ""
    return "; ".join(failed[:shown]) + more


def write_failed(blessing, model_uri: str, failure: dict) -> None:
    """The blessing of a candidate that has no model: not blessed, and why."""
    reason = f"training failed: {failure['error']}"
    report = {"candidate": failure["candidate"], "framework": failure["framework"], "blessed": False,
              "reasons": [reason], "metrics": {"overall": {}, "slices": {}}, "baseline_version": 0,
              "champion": None, "training_failed": failure}
    Path(blessing.uri, EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    Path(blessing.uri, "NOT_BLESSED").touch()
    blessing.set_int_custom_property("blessed", 0)
    blessing.set_int_custom_property("baseline_version", 0)
    blessing.set_string_custom_property("current_model", model_uri)
    blessing.set_string_custom_property("framework", failure["framework"])
    blessing.set_string_custom_property("candidate", failure["candidate"])
    blessing.set_string_custom_property("training_failed", reason)


def read_predictions(blessing_uri: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, probabilities) the gate scored, or None for a blessing made before."""
    path = Path(blessing_uri, PREDICTIONS_FILE)
    if not path.exists():
        return None
    with np.load(path) as found:
        return found["labels"], found["probabilities"]


def read_samples(blessing_uri: str) -> dict:
    return json.loads(Path(blessing_uri, SAMPLES_FILE).read_text())


# What this step reports (components.reports.step_reports).
def figures(step) -> dict:
    blessing = step.output("blessing")
    props = tfx_layout.custom_properties(blessing) if blessing else {}
    named = ("auc", "accuracy", "loss", "rmse", "mae", "r2", "example_count", "macro_f1", "blessed",
             "baseline_version", "training_failed", "failed_checks")
    per_class = {k: v for k, v in props.items() if k.startswith(("precision.", "recall."))}
    return {**{k: props[k] for k in named if k in props}, **per_class}


def summary(f: dict) -> str:
    if "blessed" not in f:
        return ""
    if "training_failed" in f:
        return f"NOT blessed: {f['training_failed']}"
    verdict = "BLESSED" if f["blessed"] else "NOT blessed"
    against = f"v{f['baseline_version']}" if f.get("baseline_version") else "no champion"
    scores = ", ".join(f"{m} {f[m]:.4f}" for m in ("auc", "accuracy", "rmse", "r2") if m in f)
    why = f" ({f['failed_checks']})" if f.get("failed_checks") else ""
    return (f"{scores or 'metrics undefined'} on {int(f.get('example_count', 0)):,} rows vs {against}: "
            f"{verdict}{why}")


def kept(step, figures: dict) -> Kept:
    blessing = step.output("blessing")
    if not blessing:
        return Kept()
    _, candidate = step_ids.candidate_step(step.node_id)
    return Kept(files=[Path(blessing.uri, EVALUATION_FILE)],
                on_pipeline_run={f"{candidate}.{k}": float(v) for k, v in figures.items()
                                 if isinstance(v, (int, float))})
