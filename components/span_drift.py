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

from components import drift
from components.serving_skew import frame_statistics


def span_statistics(files: list[str], schema_path: str, columns: list[str]):
    """TFDV statistics of a span's CSV files, the bounded columns typed as the schema
    types them (a span is a day's rows: read in memory, no Beam pipeline)."""
    import pandas as pd

    frames = [pd.read_csv(f, usecols=lambda c: c in columns) for f in files]
    return frame_statistics(pd.concat(frames), schema_path)


def measure(spans_parameter: str, schema_path: str,
            bounds: dict[str, tuple[str, float]]) -> tuple[dict | None, list[dict]]:
    """spans_parameter: pipelines.run.span_window.newest_against_previous's JSON ->
    (the two spans, one drift row per bounded feature), or (None, []) without one."""
    if not spans_parameter:
        return None, []
    spans = json.loads(spans_parameter)
    columns = list(bounds)
    newest = span_statistics(spans["newest"]["files"], schema_path, columns)
    previous = span_statistics(spans["previous"]["files"], schema_path, columns)
    reference = f"the previous span ({spans['previous']['name']})"
    return spans, drift.measure_statistics(newest, previous, schema_path, bounds, reference)
