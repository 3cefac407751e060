"""The data gate: stops the run when ExampleValidator found anomalies, or when the data
drifted from the drift reference (components.gates.drift_reference: a pinned version's data,
the champion's, or both).

ExampleValidator only writes its findings; this component turns them into a hard stop
before Transform, with a list a person can act on (feature, anomaly, details). The
references, the bounds and the accept switch are parameters, so the cache sees a new
champion or a re-pin; the baseline stays a declared input for ML Metadata's lineage.
The step keeps its id, check_anomalies (sluice_config.step_ids.DATA_GATE), which every
run's record names.
"""
import json
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, Examples, ExampleStatistics, Model, Schema

from components import baseline as baseline_input
from components.artifacts import tfx_layout
from components.artifacts.kept import Kept
from components.gates import drift as drift_measure
from components.gates import label_drift, span_drift
from components.gates.anomalies import DataAnomaliesError, read_anomalies
from sluice_config.config import DriftGate, from_parameter

DRIFT_FILE = "drift.json"


@component
def check_anomalies(
    anomalies: InputArtifact[ExampleAnomalies],
    statistics: InputArtifact[ExampleStatistics],
    examples: InputArtifact[Examples],
    schema: InputArtifact[Schema],
    baseline: InputArtifact[Model],
    report: OutputArtifact[ExampleAnomalies],
    drift: Parameter[str],  # a DriftGate as JSON
    references: Parameter[str] = "[]",  # components.gates.drift_reference.references as JSON
    spans: Parameter[str] = "",  # the newest span and the previous one (components.gates.span_drift)
):
    """Fails the run (and so everything downstream) if any anomaly was found, or drift
    beyond a bound unless accepted: from the drift references, and where data comes in
    spans, of the newest span from the previous one. The report (an ExampleAnomalies artifact, a type
    every orchestrator knows) records the count and the drift table (drift.json)."""
    found = read_anomalies(anomalies.uri)
    report.set_int_custom_property("anomaly_count", len(found))
    if found:
        raise DataAnomaliesError(found)
    settings = from_parameter(DriftGate, drift)
    version = baseline_input.version_of(baseline)
    measured = [r for r in json.loads(references) if Path(r["statistics_uri"]).exists()]
    schema_path = str(tfx_layout.schema_file(schema.uri))
    rows = []
    for reference in measured:
        rows += drift_measure.measure(statistics.uri, reference["statistics_uri"], schema_path,
                                      settings.bounds, reference["name"])
    rows += _label_rows(examples.uri, measured, settings)
    compared, span_rows = span_drift.measure(spans, schema_path, settings)
    rows += span_rows
    rows.sort(key=lambda r: (not r["drifted"], -r["value"]))
    drifted = [r for r in rows if r["drifted"]]
    Path(report.uri, DRIFT_FILE).write_text(json.dumps({
        "baseline_version": version, "references": measured, "spans": compared,
        "accepted": settings.accept, "rows": rows}, indent=2))
    report.set_int_custom_property("drifted_features", len(drifted))
    report.set_int_custom_property("drift_accepted", int(bool(drifted and settings.accept)))
    if drifted and not settings.accept:
        raise drift_measure.DataDriftError(rows, " and ".join(
            dict.fromkeys(r["reference"] for r in drifted)))


def _label_rows(examples_uri: str, references: list[dict], settings: DriftGate) -> list[dict]:
    """The label's drift row against each reference whose rows were recorded (a version
    pushed before the label was measured recorded only its statistics)."""
    from components.evaluate import read_raw_split

    with_rows = [r for r in references if r.get("examples_uri") and Path(r["examples_uri"]).exists()]
    if not settings.label or not with_rows:
        return []
    columns = label_drift.columns(settings)
    new = label_drift.label_values(read_raw_split(examples_uri, "train", columns), settings)
    return [label_drift.measure(new, label_drift.label_values(
        read_raw_split(r["examples_uri"], "train", columns), settings), settings, r["name"])
        for r in with_rows]


def read_drift(report_uri: str) -> dict:
    path = Path(report_uri, DRIFT_FILE)
    return json.loads(path.read_text()) if path.exists() else {"rows": []}


# What this step reports (components.reports.step_reports).
def figures(step) -> dict:
    report = step.output("report")
    props = tfx_layout.custom_properties(report) if report else {}
    return {k: props[k] for k in ("anomaly_count", "drifted_features", "drift_accepted") if k in props}


def summary(f: dict) -> str:
    if "anomaly_count" not in f:
        return ""
    return (f"{f['anomaly_count']} anomalies, {f.get('drifted_features', 0)} drifted features"
            + (" (drift accepted)" if f.get("drift_accepted") else ""))


def kept(step, figures: dict) -> Kept:
    report = step.output("report")
    return Kept(documents={DRIFT_FILE: read_drift(report.uri)} if report else {})
