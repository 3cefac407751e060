"""The data gate: stops the run when ExampleValidator found anomalies.

ExampleValidator only writes its findings; this component turns them into a hard stop
before Transform, with a list a person can act on (feature, anomaly, details).
"""

from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies


class DataAnomaliesError(RuntimeError):
    """The input data broke the curated schema; the message lists every anomaly."""

    def __init__(self, anomalies: list[dict]):
        self.anomalies = anomalies
        lines = [f"  - [{a['split']}] {a['feature']}: {a['anomaly']} ({a['details']})" for a in anomalies]
        super().__init__(
            f"{len(anomalies)} data anomal{'y' if len(anomalies) == 1 else 'ies'} found; "
            "the run stopped before Transform and nothing was pushed:\n" + "\n".join(lines)
            + "\nFix the data, or if the change is intended, update the curated schema "
            "(see 'sluice schema infer')."
        )


def read_anomalies(anomalies_uri: str) -> list[dict]:
    """Every anomaly in an ExampleAnomalies artifact, one dict per feature and reason."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = []
    for path in sorted(Path(anomalies_uri).glob("Split-*/SchemaDiff.pb")):
        proto = anomalies_pb2.Anomalies.FromString(path.read_bytes())
        split = path.parent.name.removeprefix("Split-")
        for feature, info in sorted(proto.anomaly_info.items()):
            for reason in info.reason:
                found.append({
                    "split": split,
                    "feature": feature,
                    "anomaly": reason.short_description,
                    "details": reason.description,
                })
        if proto.HasField("dataset_anomaly_info"):
            for reason in proto.dataset_anomaly_info.reason:
                found.append({"split": split, "feature": "(dataset)",
                              "anomaly": reason.short_description, "details": reason.description})
    return found


@component
def check_anomalies(anomalies: InputArtifact[ExampleAnomalies], report: OutputArtifact[ExampleAnomalies]):
    """Fails the run (and so everything downstream) if any anomaly was found. The report
    (an ExampleAnomalies artifact, a type every orchestrator knows) records the count."""
    found = read_anomalies(anomalies.uri)
    report.set_int_custom_property("anomaly_count", len(found))
    if found:
        raise DataAnomaliesError(found)
