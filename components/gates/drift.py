"""The drift gate's measure: the new data's statistics against a reference's (the data
of a pinned version, of the champion, or both: components.gates.drift_reference), one bound
per feature from the config (PipelineConfig.drift_bounds).

- categorical features: TFDV's L-infinity distance between the value frequencies;
- numeric, bucketized and identity features: the Jensen-Shannon divergence (base 2,
  0..1) of the two distributions over bins cut at the reference's deciles (TFDV's
  quantile histogram), each side's mass per bin read off its own quantile histogram.
  TFDV's own JSD compares equal-width histograms, where one long tail puts nearly all
  rows in one bucket: two random halves of the taxi file measured 0.80 on trip_miles,
  so the bound had to be 0.5 and a real shift passed under it. On decile bins the
  halves measure at most 0.05 over six shuffles and twelve features, and a shift of one
  standard deviation at least 0.21 (tests/test_drift.py holds both).
"""
from __future__ import annotations

import numpy as np

from components.artifacts import tfx_layout

L_INFINITY = "infinity_norm"
JENSEN_SHANNON = "jensen_shannon_divergence"


class DataDriftError(RuntimeError):
    """The new data drifted from the drift reference."""

    def __init__(self, rows: list[dict], reference: str):
        self.rows = rows
        drifted = [r for r in rows if r["drifted"]]
        labels = sorted({r["feature"].removesuffix(" (label)") for r in drifted if r.get("label")})
        features = {r["feature"] for r in drifted if not r.get("label")}
        what = " and ".join([*(f"the label {name}" for name in labels),
                             *([f"{len(features)} feature(s)"] if features else [])])
        super().__init__(
            f"{what} drifted from the drift reference ({reference}); "
            f"the run stopped before Transform and nothing was pushed:\n"
            f"{format_table(drifted)}\nFix the data; or, if the change is intended, accept "
            "it for this run with `sluice run --accept-drift`, re-pin the reference to a "
            "version trained on the new data (`sluice drift pin --to VERSION`), or raise the "
            "bound in the config (drift.features.<name>, drift.numeric, drift.categorical). "
            "Each is recorded in MLflow."
        )


def format_table(rows: list[dict]) -> str:
    lines = [f"  {'feature':<28} {'measure':<26} {'value':>8} {'threshold':>9}  reference"]
    lines += [f"  {r['feature']:<28} {r['measure']:<26} {r['value']:>8.4f} {r['threshold']:>9}  "
              f"{r.get('reference', '')}" for r in rows]
    return "\n".join(lines)


def split_statistics(statistics_uri: str, split: str):
    """The TFDV statistics of one split of a StatisticsGen artifact."""
    import tensorflow_data_validation as tfdv

    path = tfx_layout.split_file(statistics_uri, split, tfx_layout.STATISTICS_FILE)
    return tfdv.load_stats_binary(str(path))


def train_statistics(statistics_uri: str):
    return split_statistics(statistics_uri, "train")


def quantile_buckets(statistics, feature: str) -> list[tuple[float, float, float]] | None:
    """(low, high, count) of a numeric feature's quantile histogram, or None."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for found in statistics.datasets[0].features:
        if ".".join(found.path.step) != feature or not found.HasField("num_stats"):
            continue
        for histogram in found.num_stats.histograms:
            if histogram.type == statistics_pb2.Histogram.QUANTILES and histogram.buckets:
                return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]
    return None


def _cdf(buckets, x: float) -> float:
    """P(value <= x), spreading each bucket's rows evenly over its range (a bucket of
    one repeated value holds them all at that value)."""
    total = sum(count for _, _, count in buckets)
    below = 0.0
    for low, high, count in buckets:
        if x >= high:
            below += count
        elif x > low:
            below += count * (x - low) / (high - low)
    return below / total if total else 0.0


def quantile_binned_jsd(reference, new) -> float:
    """Jensen-Shannon divergence (base 2) of two quantile histograms over bins cut at
    the reference's inner decile boundaries (open at both ends, so the tails of either
    side never depend on how a far outlier stretches its last bucket)."""
    edges = sorted({high for _, high, _ in reference[:-1]}) or [reference[-1][1]]

    def masses(buckets):
        cumulative = [_cdf(buckets, e) for e in edges]
        return np.clip(np.diff([0.0, *cumulative, 1.0]), 0.0, None)

    return jensen_shannon(masses(reference), masses(new))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) of two distributions over the same bins."""
    m = (p + q) / 2

    def kl(a):
        held = a > 0
        return float(np.sum(a[held] * np.log2(a[held] / m[held])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def _l_infinity(new, reference, schema_path: str, bounds: dict) -> dict[str, float]:
    """feature -> TFDV's L-infinity distance, for the features bounded by it."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    schema = tfdv.load_schema_text(schema_path)
    names = {f.name for f in schema.feature}
    for name, bound in bounds.items():
        if name in names:
            tfdv.get_feature(schema, name).drift_comparator.infinity_norm.threshold = bound
    found = tfdv.validate_statistics(new, schema, previous_statistics=reference)
    kind = anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY
    return {".".join(info.path.step): float(m.value) for info in found.drift_skew_info
            for m in info.drift_measurements if m.type == kind}


def measure(statistics_uri: str, reference_statistics_uri: str, schema_path: str,
            bounds: dict[str, tuple[str, float]], reference: str = "") -> list[dict]:
    """One row per bounded feature: {feature, measure, value, threshold, drifted,
    reference}, the drifted first."""
    return measure_statistics(train_statistics(statistics_uri), train_statistics(reference_statistics_uri),
                              schema_path, bounds, reference)


def measure_statistics(new, old, schema_path: str, bounds: dict[str, tuple[str, float]],
                       reference: str = "") -> list[dict]:
    """measure() on statistics already loaded (the drift gate's, and `sluice monitor`'s
    served rows against the training data)."""
    values = _l_infinity(new, old, schema_path,
                         {f: b for f, (m, b) in bounds.items() if m == L_INFINITY})
    for feature, (comparator, _) in bounds.items():
        if comparator == JENSEN_SHANNON:
            ref_buckets, new_buckets = quantile_buckets(old, feature), quantile_buckets(new, feature)
            if ref_buckets and new_buckets:
                values[feature] = quantile_binned_jsd(ref_buckets, new_buckets)
    rows = [{"feature": f, "measure": bounds[f][0], "value": v, "threshold": bounds[f][1],
             "drifted": v > bounds[f][1], "reference": reference}
            for f, v in values.items() if f in bounds]
    return sorted(rows, key=lambda r: (not r["drifted"], -r["value"]))
