from pathlib import Path

import pytest
import yaml

from sluice_config import config as config_module
from sluice_config.errors import ConfigError

pytestmark = pytest.mark.unit


def write(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_bundled_configs_load():
    taxi = config_module.load("taxi")
    assert taxi.task == "binary" and taxi.num_classes == 2
    assert taxi.label.source_columns == ("tips", "fare")
    assert "tips" in taxi.raw_columns and "tips" not in taxi.feature_names
    penguin = config_module.load("penguin")
    assert penguin.num_classes == 3 and penguin.label.source_columns == ("species",)


def test_relative_paths_resolve_against_config_file(tmp_path):
    config = config_module.load(write(tmp_path, data="mine.csv"))
    assert config.data == (tmp_path / "mine.csv").resolve()


def test_unknown_key_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'slicez'.*Did you mean 'slices'"):
        config_module.load(write(tmp_path, slicez=["trip_start_hour"]))


def test_unknown_feature_kind_is_named(tmp_path):
    with pytest.raises(ConfigError, match="features.fare.kind: unknown kind 'numerc'.*'numeric'"):
        config_module.load(write(tmp_path, features={"fare": "numerc"}))


def test_bad_label_rule_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="cannot parse 'tips >> fare'"):
        config_module.load(write(tmp_path, label={"name": "x", "derive": "tips >> fare"}))


def test_gate_metric_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="gate.thresholds: unknown key 'acuracy'.*'accuracy'"):
        config_module.load(write(tmp_path, gate={"thresholds": {"acuracy": 0.5}}))


def test_unknown_bundled_config_lists_choices():
    with pytest.raises(ConfigError, match="Did you mean 'taxi'"):
        config_module.load("taxxi")


@pytest.mark.parametrize("section, change, message", [
    ("training", {"steps": "ten"}, r"training.steps: expected int, got str 'ten'"),
    ("training", {"learning_rate": "fast"}, r"training.learning_rate: expected float"),
    ("training", {"hidden_units": [32, "x"]}, r"training.hidden_units: expected tuple\[int, ...\]"),
    ("gate", {"min_slice_examples": 1.5}, r"gate.min_slice_examples: expected int"),
    ("drift", {"accept": "yes"}, r"drift.accept: expected bool"),
    ("training", {"workers": "two"}, r"training.workers: expected int, got str 'two'"),
    ("training", {"workers": 0}, r"training.workers: expected at least 1, got 0"),
    ("training", {"workers": 3}, r"training.batch_size: 40 does not split evenly across 3 workers"),
    ("drift", {"features": {"fare": "high"}}, r"drift.features: expected dict\[str, float\]"),
])
def test_wrong_types_fail_at_load_naming_key_and_type(tmp_path, section, change, message):
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw[section] = {**(raw.get(section) or {}), **change}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.load(path)


def test_drift_bounds_follow_feature_kinds():
    config = config_module.load("taxi")
    bounds = config.drift_bounds()
    assert bounds["company"] == ("infinity_norm", config.drift.categorical)
    assert bounds["fare"] == ("jensen_shannon_divergence", config.drift.numeric)
