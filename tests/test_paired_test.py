"""The promotion test: a paired interval of the primary metric's improvement on the
same eval rows (components.gates.paired_test)."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from components.gates import paired_test

pytestmark = pytest.mark.unit


def _binary(rows, rng, signal):
    labels = rng.integers(0, 2, rows)
    score = 1 / (1 + np.exp(-(signal * (labels - 0.5) + rng.normal(0, 1, rows))))
    return labels, np.stack([1 - score, score], 1)


def _jitter(probs, rng, scale):
    score = np.clip(probs[:, 1] + rng.normal(0, scale, len(probs)), 1e-4, 1 - 1e-4)
    return np.stack([1 - score, score], 1)


def test_delong_variance_matches_the_spread_of_auc_over_resampled_rows():
    """The interval's width is the real noise: DeLong's standard error of an AUC
    difference agrees with a paired bootstrap's within 15%."""
    rng = np.random.default_rng(0)
    labels, champion = _binary(2000, rng, 1.5)
    candidate = _jitter(champion, rng, 0.2)
    found = paired_test.paired_difference("auc", labels, candidate, champion, 0.95)
    differences = []
    for _ in range(400):
        rows = rng.integers(0, len(labels), len(labels))
        differences.append(roc_auc_score(labels[rows], candidate[rows, 1])
                           - roc_auc_score(labels[rows], champion[rows, 1]))
    bootstrap_se = np.std(differences)
    delong_se = (found["high"] - found["low"]) / 2 / 1.959964
    assert delong_se == pytest.approx(bootstrap_se, rel=0.15)
    exact = roc_auc_score(labels, candidate[:, 1]) - roc_auc_score(labels, champion[:, 1])
    assert found["improvement"] == pytest.approx(exact)
    assert found["test"] == "DeLong" and found["rows"] == 2000


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_regression_noise_is_not_promoted_and_a_real_gain_is(metric):
    rng = np.random.default_rng(1)
    labels = rng.normal(50, 10, 6652)
    champion = (labels + rng.normal(0, 4.47, len(labels)))[:, None]
    noise = (labels + rng.normal(0, 4.47, len(labels)))[:, None]  # as good, other errors
    better = (labels + rng.normal(0, 3.0, len(labels)))[:, None]
    within = paired_test.paired_difference(metric, labels, noise, champion, 0.95)
    assert within["low"] < 0 < within["high"] and not paired_test.beyond_noise(within)
    clear = paired_test.paired_difference(metric, labels, better, champion, 0.95)
    assert clear["improvement"] > 0 and paired_test.beyond_noise(clear)


@pytest.mark.parametrize("metric", ["auc", "accuracy", "loss"])
def test_multiclass_noise_is_not_promoted_and_a_real_gain_is(metric):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 3000)

    def model(signal):
        logits = rng.normal(0, 1, (len(labels), 3)) + signal * np.eye(3)[labels]
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    champion = model(1.0)
    within = paired_test.paired_difference(metric, labels, model(1.0), champion, 0.95)
    assert not paired_test.beyond_noise(within)
    clear = paired_test.paired_difference(metric, labels, model(2.0), champion, 0.95)
    assert paired_test.beyond_noise(clear)
    assert "95% interval" in paired_test.words(clear)


def test_a_higher_confidence_widens_the_interval():
    rng = np.random.default_rng(3)
    labels, champion = _binary(1000, rng, 1.0)
    candidate = _jitter(champion, rng, 0.1)
    at95 = paired_test.paired_difference("accuracy", labels, candidate, champion, 0.95)
    at99 = paired_test.paired_difference("accuracy", labels, candidate, champion, 0.99)
    assert at99["low"] < at95["low"] and at99["high"] > at95["high"]
