"""What ExampleValidator found, as a list a person can act on, and the error the data
gate raises. Free of TFX imports, so the CLI can catch the error without loading the
stack."""
from __future__ import annotations

from components.artifacts import tfx_layout


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
    for split, path in tfx_layout.split_files(anomalies_uri, tfx_layout.ANOMALIES_FILE).items():
        proto = anomalies_pb2.Anomalies.FromString(path.read_bytes())
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
