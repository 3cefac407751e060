import numpy as np
import pytest

from components.gates import metrics
from components.push import choose

pytestmark = pytest.mark.unit


def probs_for(p1):
    p1 = np.asarray(p1, float)
    return np.stack([1 - p1, p1], 1)


def test_binary_metrics():
    labels = np.array([0, 0, 1, 1])
    m = metrics.compute(labels, probs_for([0.1, 0.6, 0.4, 0.9]))
    assert m["auc"] == 0.75 and m["accuracy"] == 0.5 and m["example_count"] == 4
    assert m["loss"] > 0


def test_multiclass_metrics_and_slices():
    labels = np.array([0, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 2, 1]] * 0.9 + 0.1 / 3
    result = metrics.compute_sliced(labels, probs, {"island": np.array(["a", "a", "b", "b"])})
    assert result["overall"]["accuracy"] == 0.75
    assert result["slices"]["island"]["a"]["accuracy"] == 1.0
    assert result["slices"]["island"]["b"]["example_count"] == 2


def test_judge_thresholds_and_regression():
    cand = {"auc": 0.80, "accuracy": 0.7, "loss": 0.5}
    blessed, reasons = metrics.judge(cand, None, {"auc": 0.7}, {"auc": 0.01})
    assert blessed and "no champion yet" in reasons[-1]
    blessed, reasons = metrics.judge(cand, {"auc": 0.85, "accuracy": 0.7, "loss": 0.4},
                                     {"auc": 0.7}, {"auc": 0.01, "loss": 0.05})
    assert not blessed
    assert any("auc 0.8000 vs champion 0.8500" in r and "REGRESSED" in r for r in reasons)
    assert any(r.startswith("loss") and "REGRESSED" in r for r in reasons)
    blessed, _ = metrics.judge(cand, {"auc": 0.805, "accuracy": 0.7, "loss": 0.5},
                               {"auc": 0.7}, {"auc": 0.01})
    assert blessed  # within tolerance
    blessed, reasons = metrics.judge(cand, None, {"auc": 0.9}, {})
    assert not blessed and "FAILED" in reasons[0]


def test_choose_prefers_better_blessed_candidate():
    cands = [{"candidate": "keras", "blessed": True, "value": 0.80},
             {"candidate": "torch", "blessed": True, "value": 0.82}]
    best, reason = choose(cands, "auc")
    assert best["candidate"] == "torch" and "chosen over keras" in reason
    best, _ = choose(cands, "loss")
    assert best["candidate"] == "keras"
    cands[1]["blessed"] = False
    assert choose(cands, "auc")[0]["candidate"] == "keras"
    cands[0]["blessed"] = False
    cands[0]["reasons"] = ["auc 0.8000 >= 0.9 FAILED", "accuracy 0.7000 >= 0.9 FAILED"]
    cands[1].update(reasons=["auc 0.8200 >= 0.7 ok"], infra_validation="the server answered 500")
    best, reason = choose(cands, "auc")
    assert best is None and reason == (
        "not pushed: no candidate was blessed (keras: auc 0.8000 >= 0.9 FAILED (+1 more); "
        "torch: infra validation: the server answered 500)")


def test_a_tie_goes_to_the_first_candidate_in_the_config_and_says_so():
    cands = [{"candidate": name, "blessed": True, "value": value}
             for name, value in (("wide", 0.80), ("deep", 0.82), ("mlp", 0.82), ("res", 0.82))]
    best, reason = choose(cands, "auc")
    assert best["candidate"] == "deep"
    assert reason.endswith("(tied with mlp, res: the first in the config's candidates wins)")
    assert choose(cands[:2], "auc")[1].count("tied") == 0


def test_regression_metrics_and_their_direction():
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    found = metrics.compute(labels, np.array([[1.5], [2.0], [2.5], [4.0]]))
    assert found["rmse"] == pytest.approx(np.sqrt(0.125)) and found["mae"] == pytest.approx(0.25)
    assert found["r2"] == pytest.approx(1 - 0.5 / 5.0) and found["example_count"] == 4
    assert np.isnan(metrics.compute(np.array([2.0, 2.0]), np.array([[1.0], [2.0]]))["r2"])
    blessed, reasons = metrics.judge(found, {"rmse": 0.2, "mae": 0.1, "r2": 0.95}, {"rmse": 0.5},
                                     {"rmse": 0.1})
    assert not blessed and "rmse 0.3536 <= 0.5 ok" in reasons[0]  # lower is better
    assert metrics.better("rmse", 0.3, 0.4) and metrics.better("r2", 0.9, 0.8)
    assert "per_class" not in metrics.compute_sliced(labels, found and np.ones((4, 1)), {})


def test_undefined_metric_fails_its_check_with_the_reason():
    cand = {"auc": float("nan"), "accuracy": 0.9, "loss": 0.3}
    blessed, reasons = metrics.judge(cand, None, {"auc": 0.7, "accuracy": 0.5}, {})
    assert not blessed and any("auc could not be computed (NaN" in r for r in reasons)
    blessed, reasons = metrics.judge({"auc": 0.8, "accuracy": 0.9, "loss": 0.3},
                                     {"auc": float("nan"), "accuracy": 0.9, "loss": 0.3},
                                     {}, {"auc": 0.01}, baseline_name="champion v4")
    assert blessed and "champion v4 scores NaN" in reasons[0]


def test_slice_gate_names_the_failing_slices():
    slices = {"hour": {"3": {"auc": 0.55, "example_count": 40},
                       "4": {"auc": 0.9, "example_count": 40},
                       "5": {"auc": 0.1, "example_count": 5}}}  # too small to judge
    blessed, reasons, failing = metrics.judge_slices(slices, {"auc": 0.6}, 30)
    assert not blessed and failing == ["hour=3: auc 0.5500 < 0.6 (40 rows)"]
    assert "1 slice(s) below the slice thresholds FAILED" in reasons[0]
    assert metrics.judge_slices(slices, {"auc": 0.5}, 30)[0]
    assert metrics.judge_slices(slices, {}, 30) == (True, [], [])


def test_a_blessed_candidate_replaces_the_champion_only_when_it_is_better():
    """The measured case: accuracy 0.6836 against the champion's 0.6970 is within a
    0.02 tolerance (blessed) but worse: not promoted; a tie is not promoted either."""
    from components.gates.metrics import promotes

    worse, words = promotes("accuracy", 0.6836, 0.6970, 0.0, False)
    assert not worse and "0.6836 vs the champion's 0.6970" in words and "-0.0134" in words
    assert not promotes("auc", 0.8, 0.8, 0.0, False)[0]  # a tie keeps the champion
    assert promotes("auc", 0.8, 0.8, 0.0, True)[0]  # unless allow_equal (TFX's rule)
    assert promotes("auc", 0.81, 0.8, 0.0, False)[0]
    assert not promotes("auc", 0.805, 0.8, 0.01, False)[0]  # min_improvement
    assert promotes("auc", 0.811, 0.8, 0.01, False)[0]
    assert promotes("loss", 0.30, 0.35, 0.0, False)[0]  # lower is better
    assert not promotes("loss", 0.36, 0.35, 0.0, False)[0]
    assert promotes("auc", 0.7, float("nan"), 0.0, False)[0]  # nothing to beat


def test_push_says_blessed_not_promoted_with_both_figures():
    from components.push import promotion
    from sluice_config.config import Gate

    winner = {"value": 0.6836, "champion_value": 0.6970}
    promoted, why = promotion(winner, 3, Gate(primary_metric="accuracy"))
    assert not promoted and "0.6836" in why and "0.6970" in why and "champion v3" in why
    assert promotion(winner, 0, Gate(primary_metric="accuracy")) == (True, "no champion yet")


def test_multiclass_is_judged_per_class_and_a_class_the_model_ignores_is_named():
    """The weather case: a model that never predicts 'drizzle' and gets few 'snow' right."""
    labels = np.array([0] * 50 + [1] * 10 + [2] * 20)
    predicted = np.array([0] * 50 + [0] * 10 + [2] * 5 + [0] * 15)
    probs = np.eye(3)[predicted] * 0.9 + 0.1 / 3
    found = metrics.per_class(labels, probs, ("sun", "drizzle", "snow"))
    assert found["classes"]["drizzle"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 10}
    assert found["classes"]["snow"]["recall"] == 0.25 and found["classes"]["snow"]["precision"] == 1.0
    assert found["confusion_matrix"] == [[50, 0, 0], [10, 0, 0], [15, 0, 5]]
    assert found["macro_f1"] == pytest.approx(np.mean([2 * 50 / 75 * 1 / (50 / 75 + 1), 0, 0.4]))
    blessed, reasons = metrics.judge_per_class(found, {"recall": 0.2})
    assert not blessed and "drizzle: recall 0.0000 < 0.2 (10 rows)" in reasons[0]
    assert "snow" not in reasons[0]  # 0.25 meets 0.2
    # No bound given: drizzle (10 rows, never found) still fails the candidate by default;
    # with fewer rows than gate.min_class_examples it is not judged
    blessed, reasons = metrics.judge_per_class(found, {})
    assert not blessed and "drizzle: recall 0.0000, never predicted right (10 rows" in reasons[0]
    assert metrics.judge_per_class(found, {}, min_examples=11) == (True, [])
    # a recall bound the user set replaces the default
    assert metrics.judge_per_class(found, {"recall": 0.0})[0]
    assert metrics.compute_sliced(labels, probs, {}, ("sun", "drizzle", "snow"))["per_class"] == found


def test_push_does_not_promote_within_the_noise_and_says_the_interval():
    from components.push import promotion
    from sluice_config.config import Gate

    noise = {"improvement": 0.0043, "low": -0.0110, "high": 0.0190, "confidence": 0.95,
             "test": "paired delta method", "rows": 6652}
    winner = {"value": 4.4727, "champion_value": 4.4770, "improvement": noise}
    promoted, why = promotion(winner, 2, Gate(primary_metric="rmse"))
    assert not promoted
    assert why.startswith("within the noise (+0.0043, 95% interval -0.0110..+0.0190")
    clear = {**winner, "value": 4.0, "improvement": {**noise, "improvement": 0.477, "low": 0.41,
                                                     "high": 0.54}}
    promoted, why = promotion(clear, 2, Gate(primary_metric="rmse"))
    assert promoted and "beyond the noise (+0.4770" in why
