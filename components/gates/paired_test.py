"""Is a candidate's primary metric better than the champion's beyond the noise of the
eval rows? A paired test on the same rows, so promotion means "better", not "luckier".

Each metric is written as a sum of per-row influences (its first-order expansion
around the value on these rows), and the difference of two models' metrics on the
same rows has the variance of the sum of the differences of their influences:
- auc: DeLong's test (its placement values are the influences; for multiclass, the
  one-vs-rest macro average of them);
- accuracy: the paired difference of correct answers (the normal form of McNemar's
  test: only the rows the models disagree on count);
- loss, mae: the paired difference of per-row losses or absolute errors;
- rmse, r2: the delta method on the per-row squared errors.
O(N log N) and deterministic (no resampling): a gate's decision depends only on its
inputs, and a 10M-row eval split costs a sort, not a thousand re-scorings.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from components.gates.metrics import compute, is_regression
from sluice_config.config import LOWER_IS_BETTER

TESTS = {"auc": "DeLong", "accuracy": "McNemar (paired, normal)", "loss": "paired t (per-row loss)",
         "mae": "paired t (per-row error)", "rmse": "paired delta method", "r2": "paired delta method"}


def _auc_influence(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """DeLong's placement values as per-row influences on the binary AUC: a positive
    row's share of negatives scored below it, a negative's of positives above it."""
    positive = labels == 1
    m, n = int(positive.sum()), int((~positive).sum())
    influence = np.zeros(len(labels))
    if not m or not n:
        return influence
    ranks = rankdata(scores)
    within_pos = rankdata(scores[positive])
    within_neg = rankdata(scores[~positive])
    v10 = (ranks[positive] - within_pos) / n  # P(negative < this positive)
    v01 = 1.0 - (ranks[~positive] - within_neg) / m  # P(positive > this negative)
    auc = v10.mean()
    influence[positive] = (v10 - auc) / m
    influence[~positive] = (v01 - auc) / n
    return influence


def influence(metric: str, labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-row influences of one model's metric on these rows (they sum to ~0; their
    spread is the metric's standard error)."""
    count = len(labels)
    if is_regression(predictions):
        errors = predictions[:, 0].astype(np.float64) - np.asarray(labels, np.float64)
        squared = errors ** 2
        mse = squared.mean()
        if metric == "mae":
            return (np.abs(errors) - np.abs(errors).mean()) / count
        if metric == "rmse":
            return (squared - mse) / (2 * max(np.sqrt(mse), 1e-12) * count)
        spread = np.var(np.asarray(labels, np.float64))  # r2 = 1 - mse / spread
        return -(squared - mse) / (max(spread, 1e-12) * count)
    labels = np.asarray(labels).astype(np.int64)
    if metric == "accuracy":
        correct = (predictions.argmax(1) == labels).astype(np.float64)
        return (correct - correct.mean()) / count
    if metric == "loss":
        picked = predictions[np.arange(count), np.clip(labels, 0, predictions.shape[1] - 1)]
        losses = -np.log(np.clip(picked, 1e-7, 1))
        return (losses - losses.mean()) / count
    if predictions.shape[1] == 2:
        return _auc_influence(labels, predictions[:, 1])
    classes = predictions.shape[1]
    return sum(_auc_influence((labels == k).astype(np.int64), predictions[:, k])
               for k in range(classes)) / classes


def paired_difference(metric: str, labels: np.ndarray, candidate: np.ndarray,
                      champion: np.ndarray, confidence: float) -> dict:
    """The candidate's improvement over the champion on the same rows (positive is
    better, whichever way the metric runs), with its two-sided interval at
    `confidence`: {improvement, low, high, confidence, test, rows}."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    improvement = sign * (compute(labels, candidate)[metric] - compute(labels, champion)[metric])
    spread = influence(metric, labels, candidate) - influence(metric, labels, champion)
    error = float(np.sqrt(np.sum(spread ** 2)))
    half = float(norm.ppf(0.5 + confidence / 2)) * error
    return {"improvement": float(improvement), "low": float(improvement - half),
            "high": float(improvement + half), "confidence": confidence,
            "test": TESTS[metric], "rows": int(len(labels))}


def beyond_noise(interval: dict) -> bool:
    """The whole interval lies on the better side: the improvement is not noise."""
    return interval["low"] > 0


def words(interval: dict) -> str:
    """'+0.0043, 95% interval -0.0110..+0.0190, DeLong, 6,652 rows'."""
    return (f"{interval['improvement']:+.4f}, {interval['confidence']:.0%} interval "
            f"{interval['low']:+.4f}..{interval['high']:+.4f}, {interval['test']}, "
            f"{interval['rows']:,} rows")
