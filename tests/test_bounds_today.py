"""A champion judged by today's bounds (components.gates.bounds_today): its own gate figures
against the config as it reads now; `sluice models` marks a version that fails them."""
import json

import pytest

from components.gates import bounds_today
from serving.model_format import push_target
from sluice_config.config import Gate
from tests.conftest import run_sluice

pytestmark = pytest.mark.component
MODEL = "sluice-taxi"


def pushed_with(home, tmp_path, overall, per_class=None):
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    found = {"overall": overall, "slices": {}}
    if per_class:
        found["per_class"] = per_class
    (blessing / "evaluation.json").write_text(json.dumps({"metrics": found}))
    model_dir = home / "trained"
    model_dir.mkdir(parents=True)
    push_target.push(model_dir, home / "serving", MODEL, {"model_uri": "m", "blessing_uri": str(blessing)})
    return home / "serving" / MODEL / "1"


def test_a_champion_that_fails_todays_bounds_is_named(tmp_path):
    home = tmp_path / "home"
    version = pushed_with(home, tmp_path, {"auc": 0.65, "accuracy": 0.7, "loss": 0.6, "example_count": 600})
    assert bounds_today.failing_checks(version, Gate(thresholds={"auc": 0.6})) == []
    assert bounds_today.failing_checks(version, Gate(thresholds={"auc": 0.7})) == ["auc 0.6500 >= 0.7 FAILED"]
    models = run_sluice("models", "--home", home)  # the taxi config: auc >= 0.7, accuracy >= 0.6
    assert models.returncode == 0, models.stderr
    assert "[fails today's bounds: auc 0.6500 >= 0.7 FAILED]" in models.stdout


def test_a_multiclass_champion_that_never_finds_a_class_fails_the_default_per_class_check(tmp_path):
    classes = {"a": {"precision": 0.8, "recall": 0.9, "f1": 0.85, "support": 40},
               "b": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 13},
               "c": {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 30}}
    version = pushed_with(tmp_path / "home", tmp_path, {"accuracy": 0.8, "example_count": 83},
                          {"classes": classes, "macro_f1": 0.5})
    failing = bounds_today.failing_checks(version, Gate(thresholds={"accuracy": 0.7}))
    assert len(failing) == 1 and "b: recall 0.0000, never predicted right (13 rows" in failing[0]


def test_a_bound_on_a_metric_the_version_was_not_scored_on_is_no_check(tmp_path):
    """The config's task changed since (a classifier serving, a regression config)."""
    version = pushed_with(tmp_path / "home", tmp_path, {"auc": 0.8, "example_count": 600})
    assert bounds_today.failing_checks(version, Gate(thresholds={"rmse": 10.0})) == []
