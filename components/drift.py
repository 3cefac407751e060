"""The drift gate's measure: the new data's statistics against the statistics of the
data that trained the serving model, with TFDV's drift comparators (L-infinity for
categorical features, Jensen-Shannon divergence for the others), one bound per
feature from the config (PipelineConfig.drift_bounds)."""
from __future__ import annotations

from components import tfx_layout

MEASURES = {"infinity_norm": "L_INFTY", "jensen_shannon_divergence": "JENSEN_SHANNON_DIVERGENCE"}


class DataDriftError(RuntimeError):
    """The new data drifted from the data that trained the serving model."""

    def __init__(self, rows: list[dict], baseline_version: int):
        self.rows = rows
        drifted = [r for r in rows if r["drifted"]]
        table = format_table(drifted)
        super().__init__(
            f"{len(drifted)} feature(s) drifted from the data that trained the serving model "
            f"(version {baseline_version}); the run stopped before Transform and nothing "
            f"was pushed:\n{table}\nFix the data; or, if the change is intended, accept it "
            "for this run with `sluice run --accept-drift`, or raise the bound in the "
            "config (drift.features.<name>, drift.numeric, drift.categorical). Either is "
            "recorded in MLflow."
        )


def format_table(rows: list[dict]) -> str:
    lines = [f"  {'feature':<28} {'measure':<26} {'value':>8} {'threshold':>9}"]
    lines += [f"  {r['feature']:<28} {r['measure']:<26} {r['value']:>8.4f} {r['threshold']:>9}"
              for r in rows]
    return "\n".join(lines)


def split_statistics(statistics_uri: str, split: str):
    """The TFDV statistics of one split of a StatisticsGen artifact."""
    import tensorflow_data_validation as tfdv

    path = tfx_layout.split_file(statistics_uri, split, tfx_layout.STATISTICS_FILE)
    return tfdv.load_stats_binary(str(path))


def train_statistics(statistics_uri: str):
    return split_statistics(statistics_uri, "train")


def measure(statistics_uri: str, baseline_statistics_uri: str, schema_path: str,
            bounds: dict[str, tuple[str, float]]) -> list[dict]:
    """One row per bounded feature: {feature, measure, value, threshold, drifted}."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    schema = tfdv.load_schema_text(schema_path)
    names = {f.name for f in schema.feature}
    for name, (comparator, bound) in bounds.items():
        if name in names:
            getattr(tfdv.get_feature(schema, name).drift_comparator, comparator).threshold = bound
    found = tfdv.validate_statistics(train_statistics(statistics_uri), schema,
                                     previous_statistics=train_statistics(baseline_statistics_uri))
    kinds = anomalies_pb2.DriftSkewInfo.Measurement.Type
    rows = []
    for info in found.drift_skew_info:
        feature = ".".join(info.path.step)
        if feature not in bounds:
            continue
        comparator, bound = bounds[feature]
        for m in info.drift_measurements:
            if kinds.Name(m.type) == MEASURES[comparator]:
                rows.append({"feature": feature, "measure": comparator, "value": float(m.value),
                             "threshold": bound, "drifted": m.value > bound})
    return sorted(rows, key=lambda r: (not r["drifted"], -r["value"]))
