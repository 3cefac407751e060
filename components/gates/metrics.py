"""Metrics and the blessing rule: plain functions on arrays, the core of the model gate.

The same numbers for every framework: AUC (one-vs-rest macro for multiclass),
accuracy, log loss and example count, overall and per slice; for regression RMSE, MAE,
R² and example count. A model answers one column per class, or one column (the value)
for regression: that is how these functions tell the two apart.
"""
from __future__ import annotations

import numpy as np

from sluice_config.config import LOWER_IS_BETTER


def is_regression(predictions: np.ndarray) -> bool:
    """A classifier answers K >= 2 probabilities per row; a regressor one value."""
    return predictions.ndim == 2 and predictions.shape[1] == 1


def compute_regression(labels: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """labels [N] numbers, values [N, 1] -> {rmse, mae, r2, example_count}. R² is NaN
    where the labels do not vary (a slice of one value)."""
    labels = np.asarray(labels, np.float64)
    errors = values[:, 0].astype(np.float64) - labels
    spread = float(np.sum((labels - labels.mean()) ** 2)) if len(labels) else 0.0
    return {
        "rmse": float(np.sqrt(np.mean(errors ** 2))) if len(labels) else float("nan"),
        "mae": float(np.mean(np.abs(errors))) if len(labels) else float("nan"),
        "r2": 1.0 - float(np.sum(errors ** 2)) / spread if spread > 0 else float("nan"),
        "example_count": int(len(labels)),
    }


def compute(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """labels [N] class ids, probs [N, K] -> {auc, accuracy, loss, example_count}; or
    labels [N] numbers, values [N, 1] -> the regression metrics."""
    from sklearn.metrics import log_loss, roc_auc_score

    if is_regression(probs):
        return compute_regression(labels, probs)
    classes = list(range(probs.shape[1]))
    try:
        if probs.shape[1] == 2:
            auc = roc_auc_score(labels, probs[:, 1])
        else:
            auc = roc_auc_score(labels, probs, multi_class="ovr", labels=classes)
    except ValueError:  # undefined where a slice lacks a class
        auc = float("nan")
    return {
        "auc": float(auc),
        "accuracy": float(np.mean(probs.argmax(1) == labels)),
        "loss": float(log_loss(labels, np.clip(probs, 1e-7, 1), labels=classes)),
        "example_count": int(len(labels)),
    }


def per_class(labels: np.ndarray, probs: np.ndarray, classes) -> dict:
    """How the model does on each class (the predicted class is the most probable):
    {"classes": {name: {precision, recall, f1, support}}, "macro_f1",
    "confusion_matrix": rows = actual, columns = predicted, in class order}. A class
    the model never predicts has precision 0 (not NaN): it is a failure, not a gap. A
    label that is no class id (a broken preprocessing_fn) counts in no class."""
    count = probs.shape[1]
    names = [str(c) for c in classes] if len(classes) == count else [str(i) for i in range(count)]
    labels = np.asarray(labels).astype(np.int64)
    known = (labels >= 0) & (labels < count)
    matrix = np.zeros((count, count), np.int64)
    np.add.at(matrix, (labels[known], probs.argmax(1)[known]), 1)
    hits, support, predicted = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    precision = np.divide(hits, predicted, out=np.zeros(count), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(count), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(count), where=both > 0)
    return {
        "classes": {name: {"precision": float(p), "recall": float(r), "f1": float(f),
                           "support": int(n)}
                    for name, p, r, f, n in zip(names, precision, recall, f1, support)},
        "macro_f1": float(np.mean(f1)),
        "confusion_matrix": matrix.tolist(),
    }


def judge_per_class(found: dict, bounds: dict, min_examples: int = 10) -> tuple[bool, list[str]]:
    """Every class with eval rows meets every per-class bound; the failing classes are
    named (a model that ignores a class fails here, whatever its accuracy). Without a
    recall bound, a multiclass model fails all the same on a class with at least
    min_examples eval rows that it never finds (recall 0): safety by default, not by
    opt-in. (A binary model is judged by its AUC: its 0.5 cut may rightly miss a rare
    class.)"""
    failing = [f"{name}: {metric} {scores[metric]:.4f} < {bound} ({scores['support']} rows)"
               for name, scores in found["classes"].items() if scores["support"]
               for metric, bound in sorted(bounds.items()) if scores[metric] < bound]
    if "recall" not in bounds and len(found["classes"]) > 2:
        failing += [f"{name}: recall 0.0000, never predicted right ({scores['support']} rows "
                    f">= gate.min_class_examples {min_examples})"
                    for name, scores in found["classes"].items()
                    if scores["support"] >= min_examples and scores["recall"] == 0]
    if failing:
        return False, [f"{len(failing)} class check(s) FAILED: " + "; ".join(failing)]
    if not bounds:
        return True, []
    return True, ["every class meets " + ", ".join(f"{m} {b}" for m, b in sorted(bounds.items()))
                  + " ok"]


def compute_sliced(labels, probs, slices: dict[str, np.ndarray], classes=()) -> dict:
    """{"overall": metrics, "slices": {column: {value: metrics}}, "per_class": ...}
    (per_class for classification only)."""
    sliced = {}
    for column, values in slices.items():
        keys = np.array(["" if v is None else str(v) for v in values])
        sliced[column] = {k: compute(labels[keys == k], probs[keys == k]) for k in sorted(set(keys))}
    found = {"overall": compute(labels, probs), "slices": sliced}
    if not is_regression(probs):
        found["per_class"] = per_class(labels, probs, classes)
    return found


def _better_or_equal(metric: str, value: float, bound: float) -> bool:
    return value <= bound if metric in LOWER_IS_BETTER else value >= bound


def undefined(value) -> bool:
    """A metric that could not be computed (NaN): it never passes a gate."""
    return value is None or value != value


def _why_undefined(metric: str) -> str:
    return (f"{metric} could not be computed (NaN: the eval rows hold a single class, or "
            "too few rows); FAILED")


def judge(candidate: dict, baseline: dict | None, thresholds: dict, max_regression: dict,
          baseline_name: str = "champion"):
    """-> (blessed, reasons): every absolute threshold met, no regression beyond the
    tolerance against the baseline (skipped when there is none). A metric that is NaN
    fails its check with the reason, never compares silently."""
    reasons, blessed = [], True
    for metric, bound in sorted(thresholds.items()):
        if undefined(candidate[metric]):
            reasons.append(_why_undefined(metric))
            blessed = False
            continue
        ok = _better_or_equal(metric, candidate[metric], bound)
        word = "<=" if metric in LOWER_IS_BETTER else ">="
        reasons.append(f"{metric} {candidate[metric]:.4f} {word} {bound} {'ok' if ok else 'FAILED'}")
        blessed &= ok
    if baseline is None:
        reasons.append("no champion yet: no regression check")
        return blessed, reasons
    for metric, tolerance in sorted(max_regression.items()):
        if undefined(candidate[metric]):
            reasons.append(_why_undefined(metric))
            blessed = False
            continue
        if undefined(baseline[metric]):
            reasons.append(f"{metric}: {baseline_name} scores NaN on these rows; no regression check")
            continue
        lower_is_better = metric in LOWER_IS_BETTER
        bound = baseline[metric] + (tolerance if lower_is_better else -tolerance)
        ok = _better_or_equal(metric, candidate[metric], bound)
        reasons.append(
            f"{metric} {candidate[metric]:.4f} vs {baseline_name} {baseline[metric]:.4f} "
            f"(tolerance {tolerance}) {'ok' if ok else 'REGRESSED'}"
        )
        blessed &= ok
    return blessed, reasons


def judge_slices(slices: dict, slice_thresholds: dict, min_examples: int):
    """-> (blessed, reasons, failing): every slice with at least min_examples rows meets
    every slice threshold. failing lists "column=value: metric value < bound"."""
    failing = []
    for column, values in sorted(slices.items()):
        for value, found in sorted(values.items()):
            if found["example_count"] < min_examples:
                continue
            for metric, bound in sorted(slice_thresholds.items()):
                got = found[metric]
                if undefined(got) or not _better_or_equal(metric, got, bound):
                    word = ">" if metric in LOWER_IS_BETTER else "<"
                    failing.append(f"{column}={value}: {metric} {got:.4f} {word} {bound} "
                                   f"({found['example_count']} rows)")
    if not slice_thresholds:
        return True, [], []
    if failing:
        return False, [f"{len(failing)} slice(s) below the slice thresholds FAILED: "
                       + "; ".join(failing[:10])], failing
    return True, [f"every slice with >= {min_examples} rows meets "
                  + ", ".join(f"{m} {b}" for m, b in sorted(slice_thresholds.items())) + " ok"], []


def promotes(metric: str, candidate: float, champion: float | None, min_improvement: float,
             allow_equal: bool) -> tuple[bool, str]:
    """May a blessed candidate replace the champion? Its metric must beat the champion's
    (scored on the same rows) by more than min_improvement, or by at least that when
    allow_equal. -> (promoted, the comparison in words, both figures)."""
    if champion is None or undefined(champion):
        return True, f"{metric} {candidate:.4f}; the champion's is undefined on these rows"
    gain = champion - candidate if metric in LOWER_IS_BETTER else candidate - champion
    ok = gain >= min_improvement if allow_equal else gain > min_improvement
    needs = ("at least" if allow_equal else "more than") + (
        f" {min_improvement}" if min_improvement else (" 0" if allow_equal else " 0 (strictly better)"))
    return ok, (f"{metric} {candidate:.4f} vs the champion's {champion:.4f}: "
                f"improvement {gain:+.4f}, needs {needs}")


def better(metric: str, a: float, b: float) -> bool:
    """Is a strictly better than b on this metric?"""
    return a < b if metric in LOWER_IS_BETTER else a > b
