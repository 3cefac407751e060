"""The label is data too: the data gate measures the label's distribution against the
same references as the features (the drift reference's data, the previous span).

A label delivered in other units (temperatures in Celsius where the model learned
Fahrenheit) or a class balance that flips passes every feature check, and the model
gate, which scores the champion on the new eval rows, then sees the champion fail on
the corrupted labels and the bad candidate win. So the label is read from the raw rows
(a derived label is computed by the config's rule, as Transform does) and measured:
- regression: the Jensen-Shannon divergence over the reference's deciles (the numeric
  features' measure, components.gates.drift);
- classification: the largest change of one class's share of the rows (L-infinity).
"""
from __future__ import annotations

import operator

import numpy as np

from components.gates import drift
from sluice_config.config import DriftGate
from sluice_config.label_rule import parse_rule

MEASURES = {"regression": drift.JENSEN_SHANNON}  # classification: drift.L_INFINITY
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _numbers(values) -> np.ndarray:
    return np.array([np.nan if v is None or v == "" else float(v) for v in values], np.float64)


def label_values(raw: dict[str, list], settings: DriftGate) -> np.ndarray:
    """The label of each row with its sources present: numbers for a regression label,
    class names for a column, 0/1 for a derived rule ("tips > 0.2 * fare")."""
    label = settings.label
    if label.column:
        values = raw[label.column]
        if settings.task == "regression":
            found = _numbers(values)
            return found[~np.isnan(found)]
        return np.array([str(v) for v in values if v is not None and v != ""], object)
    rule = parse_rule(label.derive)
    left = _numbers(raw[rule["column"]])
    other = rule["other"]
    right = _numbers(raw[other]) if other in raw else np.full(len(left), float(other))
    present = ~np.isnan(left) & ~np.isnan(right)
    return _OPS[rule["op"]](left[present], rule["scale"] * right[present]).astype(np.int64).astype(str)


def _decile_jsd(reference: np.ndarray, new: np.ndarray) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))

    def masses(values):
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        return counts / max(len(values), 1)

    return drift.jensen_shannon(masses(reference), masses(new))


def _largest_share_change(reference: np.ndarray, new: np.ndarray) -> float:
    classes = sorted(set(reference) | set(new))
    share = {name: np.mean(reference == name) if len(reference) else 0.0 for name in classes}
    return float(max(abs(np.mean(new == name) - share[name]) for name in classes)) if len(new) else 0.0


def measure(new: np.ndarray, reference: np.ndarray, settings: DriftGate, reference_name: str) -> dict:
    """One drift row for the label ({feature, measure, value, threshold, drifted,
    reference, label: True}), the shape of components.gates.drift's rows."""
    kind = MEASURES.get(settings.task, drift.L_INFINITY)
    value = (_decile_jsd(reference, new) if kind == drift.JENSEN_SHANNON
             else _largest_share_change(reference, new))
    return {"feature": f"{settings.label.name} (label)", "measure": kind, "value": float(value),
            "threshold": settings.label_bound, "drifted": bool(value > settings.label_bound),
            "reference": reference_name, "label": True}


def columns(settings: DriftGate) -> tuple[str, ...]:
    """The raw columns the label is read from."""
    return settings.label.source_columns if settings.label else ()
