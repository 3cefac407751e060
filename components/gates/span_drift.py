"""The data gate's second comparison where data arrives in spans: the newest span
against the span delivered before it (TFX's practice of validating each span against
the previous one), with the drift gate's own measures and the config's bounds.

The drift reference (a pinned version's data, the champion's) moves only when a model
is pushed; a broken delivery (a column in other units, a feed stuck at one value) shows
first as a jump from yesterday's span. The rows join the drift table, so the stop reads
the same: the features, the measures, the bounds and the reference ("the previous
span"), exit 3 before Transform.
"""
from __future__ import annotations

import json

from components.gates import drift, label_drift
from components.gates.serving_skew import frame_statistics
from sluice_config.config import DriftGate


def span_frame(files: list[str], columns: list[str]):
    """The given columns of a span's CSV files (a span is a day's rows: read in memory,
    no Beam pipeline)."""
    import pandas as pd

    return pd.concat([pd.read_csv(f, usecols=lambda c: c in columns) for f in files])


def measure(spans_parameter: str, schema_path: str,
            settings: DriftGate) -> tuple[dict | None, list[dict]]:
    """spans_parameter: pipelines.run.span_window.newest_against_previous's JSON ->
    (the two spans, one drift row per bounded feature and one for the label), or
    (None, []) without one. The features are typed as the schema types them."""
    if not spans_parameter:
        return None, []
    spans = json.loads(spans_parameter)
    features, label_columns = list(settings.bounds), list(label_drift.columns(settings))
    newest = span_frame(spans["newest"]["files"], [*features, *label_columns])
    previous = span_frame(spans["previous"]["files"], [*features, *label_columns])
    reference = f"the previous span ({spans['previous']['name']})"
    rows = drift.measure_statistics(frame_statistics(newest[[c for c in features if c in newest]], schema_path),
                                    frame_statistics(previous[[c for c in features if c in previous]],
                                                     schema_path),
                                    schema_path, settings.bounds, reference)
    if settings.label:
        def labels(frame):
            raw = {c: frame[c].astype(object).where(frame[c].notna(), None).tolist()
                   for c in label_columns}
            return label_drift.label_values(raw, settings)

        rows.append(label_drift.measure(labels(newest), labels(previous), settings, reference))
    return spans, rows
