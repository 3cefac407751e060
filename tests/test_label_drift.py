"""The label is data too (components.gates.label_drift): a label in other units and a
binary label flipped on 30% of the rows drift beyond the default bound; two halves of
the same data do not."""
import numpy as np
import pytest

from components.gates import label_drift
from components.gates.drift import DataDriftError
from sluice_config.config import DriftGate, Label

pytestmark = pytest.mark.unit


def _gate(task, label):
    return DriftGate(bounds={}, accept=False, label=label, task=task, label_bound=0.1)


def test_a_regression_label_in_other_units_drifts_and_two_halves_do_not():
    rng = np.random.default_rng(0)
    fahrenheit = rng.normal(55, 15, 2000)
    settings = _gate("regression", Label(name="temp", column="temp"))
    week = {"temp": [f"{v:.1f}" for v in fahrenheit[:1000]]}
    celsius = {"temp": [f"{(v - 32) / 1.8:.1f}" for v in fahrenheit[1000:]]}
    same = {"temp": [f"{v:.1f}" for v in fahrenheit[1000:]]}
    reference = label_drift.label_values(week, settings)
    row = label_drift.measure(label_drift.label_values(celsius, settings), reference, settings, "span 3")
    assert row["drifted"] and row["value"] > 0.5 and row["feature"] == "temp (label)"
    halves = label_drift.measure(label_drift.label_values(same, settings), reference, settings, "span 3")
    assert not halves["drifted"] and halves["value"] < 0.02


def test_a_derived_binary_label_flipped_on_30_percent_of_rows_drifts():
    """The taxi rule: a tip above 20% of the fare (22% of rows are positive)."""
    rng = np.random.default_rng(1)
    fare = rng.uniform(5, 50, 4000)
    tips = np.where(rng.random(4000) < 0.22, 0.3, 0.05) * fare
    settings = _gate("binary", Label(name="big_tipper", derive="tips > 0.2 * fare"))
    raw = {"fare": list(fare), "tips": list(tips)}
    reference = label_drift.label_values({k: v[:2000] for k, v in raw.items()}, settings)
    flipped = tips[2000:].copy()
    chosen = rng.random(2000) < 0.3
    flipped[chosen] = np.where(flipped[chosen] > 0.2 * fare[2000:][chosen], 0.0, 0.3 * fare[2000:][chosen])
    new = label_drift.label_values({"fare": list(fare[2000:]), "tips": list(flipped)}, settings)
    row = label_drift.measure(new, reference, settings, "pinned: version 1's data")
    assert row["drifted"] and row["measure"] == "infinity_norm"
    same = label_drift.label_values({k: v[2000:] for k, v in raw.items()}, settings)
    assert not label_drift.measure(same, reference, settings, "x")["drifted"]
    error = DataDriftError([row], row["reference"])
    assert str(error).startswith("the label big_tipper drifted from the drift reference")


def test_missing_label_values_are_left_out_not_counted_as_a_class():
    settings = _gate("multiclass", Label(name="species", column="species", classes=("a", "b")))
    assert list(label_drift.label_values({"species": ["a", None, "", "b"]}, settings)) == ["a", "b"]
