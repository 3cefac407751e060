"""The model gate's fixed second set of rows (components.gates.reference_eval): a candidate
trained on corrupted labels wins on the new rows but regresses on the pinned
reference's rows, and is neither blessed nor promoted."""
import numpy as np
import pytest

from components.gates import reference_eval
from sluice_config.config import Gate, ModelGate

pytestmark = pytest.mark.unit

REFERENCE = {"name": "version 1's eval rows (the pinned drift reference)", "version": 1,
             "examples_uri": "/nowhere"}


def test_a_candidate_that_regresses_on_the_reference_rows_is_not_blessed_and_not_promoted():
    from components.push import promotion

    rng = np.random.default_rng(0)
    fahrenheit = rng.normal(55, 15, 3000)
    champion = (fahrenheit + rng.normal(0, 4, 3000))[:, None]
    celsius_trained = ((fahrenheit - 32) / 1.8 * 1.4 + 20 + rng.normal(0, 4, 3000))[:, None]
    gate = ModelGate(Gate(primary_metric="rmse", max_regression={"rmse": 0.5}), ("temp",), ())
    ok, reasons, record = reference_eval.judge(fahrenheit, celsius_trained, champion, 2, REFERENCE, gate)
    assert not ok
    assert "REGRESSED" in reasons[0] and "on version 1's eval rows" in reasons[0]
    assert reference_eval.worse_beyond_noise(record)
    winner = {"value": 13.57, "champion_value": 21.54, "reference_eval": record,
              "improvement": {"improvement": 7.97, "low": 7.5, "high": 8.4, "confidence": 0.95,
                              "test": "paired delta method", "rows": 1000}}
    promoted, why = promotion(winner, 2, gate.gate)
    assert not promoted
    assert why.startswith("worse than the champion on version 1's eval rows (the pinned drift "
                          "reference) beyond the noise (-")


def test_as_good_on_the_reference_rows_passes_and_the_decision_shows_both():
    from components.push import promotion

    rng = np.random.default_rng(1)
    labels = rng.normal(55, 15, 3000)
    champion = (labels + rng.normal(0, 4, 3000))[:, None]
    candidate = (labels + rng.normal(0, 4, 3000))[:, None]
    gate = ModelGate(Gate(primary_metric="rmse", max_regression={"rmse": 0.5}), ("temp",), ())
    ok, reasons, record = reference_eval.judge(labels, candidate, champion, 2, REFERENCE, gate)
    assert ok and reasons[0].endswith("ok") and not reference_eval.worse_beyond_noise(record)
    winner = {"value": 3.0, "champion_value": 4.0, "reference_eval": record,
              "improvement": {"improvement": 1.0, "low": 0.8, "high": 1.2, "confidence": 0.95,
                              "test": "paired delta method", "rows": 1000}}
    promoted, why = promotion(winner, 2, gate.gate)
    assert promoted and "on version 1's eval rows (the pinned drift reference): " in why
    assert "beyond the noise (+1.0000" in why


def test_no_reference_or_rows_gone():
    assert reference_eval.parse("") is None
    assert reference_eval.parse('{"name": "x", "version": 1, "examples_uri": "/gone"}') is None
