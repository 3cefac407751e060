"""Candidates in the config and the trainer-module contract, checked before Beam
starts: what a user writes under `candidates:` and what their module must define."""
import sys
import textwrap

import pytest

from sluice_config import config as config_module
from sluice_config.errors import ConfigError
from tests.test_config import write
from trainers import module_contract

pytestmark = pytest.mark.unit


def test_no_candidates_key_means_the_two_built_in_networks():
    config = config_module.load("taxi")
    assert [(c.name, c.framework, c.module_name) for c in config.candidates] == [
        ("keras", "keras", "trainers.builtin.keras_mlp"), ("torch", "torch", "trainers.builtin.torch_mlp")]


def test_candidates_are_named_and_selected(tmp_path):
    config = config_module.load(write(tmp_path, candidates={
        "keras_mlp": {"framework": "keras"},
        "wide_deep": {"framework": "keras", "module": "trainers.examples.wide_deep",
                      "hyperparameters": {"units": [8], "dropout": 0.2}},
        "tab_resnet": {"framework": "torch", "module": "trainers.examples.tab_resnet"}}))
    assert [c.name for c in config.candidates] == ["keras_mlp", "wide_deep", "tab_resnet"]
    hparams = config.candidate("wide_deep").hparams(config.training)
    assert hparams["units"] == [8] and hparams["learning_rate"] == config.training.learning_rate
    assert [c.name for c in config.select(["tab_resnet", "keras_mlp"]).candidates] == ["keras_mlp", "tab_resnet"]
    assert [c.name for c in config.select(["keras"]).candidates] == ["keras_mlp", "wide_deep"]  # a framework
    assert config.select(["both"]) == config.select(["all"]) == config
    with pytest.raises(ConfigError, match=r"no candidate named 'wide_dep'. Did you mean 'wide_deep'\?"):
        config.select(["wide_dep"])


@pytest.mark.parametrize("candidates, message", [
    ({"m": {"framework": "sklearn"}}, r"candidates.m.framework: expected one of keras, torch, got 'sklearn'"),
    ({"m": {"framework": "keras", "modul": "x"}}, r"candidates.m: unknown key 'modul'. Did you mean 'module'\?"),
    ({"Big Model": {"framework": "keras"}}, r"candidates.Big Model: a candidate's name is lower-case"),
    ({"m": {"framework": "torch", "hyperparameters": [1]}}, r"candidates.m.hyperparameters: expected dict"),
    ([], r"candidates: expected a mapping"),
])
def test_bad_candidates_are_named(tmp_path, candidates, message):
    with pytest.raises(ConfigError, match=message):
        config_module.load(write(tmp_path, candidates=candidates))


@pytest.mark.parametrize("source, message", [
    ("def build(features, hparams):\n    pass\n",
     r"candidates.m.module: {name} \(.*\.py\) defines neither build_model\(features, hparams\) nor run_fn"),
    ("def build_model(features):\n    pass\n",
     r"{name}.build_model takes 1 arguments \(features\); the contract is build_model\(features, hparams\)"),
    ("def build_model(features, hparams)\n    pass\n",
     r"{name} has a syntax error: expected ':' \(.*{name}\.py, line 1, column \d+\)"),
    ("import no_such_package_here\n", r"cannot import '{name}': No module named 'no_such_package_here'"),
    ("raise ValueError('the module fails at import')\n",
     r"importing {name} failed: ValueError: the module fails at import \(.*{name}\.py, line 1\)"),
], ids=["missing function", "wrong arity", "syntax error", "missing import", "fails at import"])
def test_a_module_that_breaks_the_contract_fails_before_beam(tmp_path, source, message, request):
    name = "bad_" + request.node.callspec.id.replace(" ", "_")
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    config = config_module.load(write(tmp_path, candidates={"m": {"framework": "keras", "module": name}}))
    try:
        with pytest.raises(ConfigError, match=message.format(name=name)):
            module_contract.check_all(config)
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(tmp_path.resolve()))


def test_a_regression_config_gets_its_metrics_and_refuses_the_classifiers(tmp_path):
    config = config_module.load("taxi_fare")
    assert config.task == "regression" and config.gate.primary_metric == "rmse" and config.num_classes == 0
    label = {"name": "fare", "column": "fare"}
    plain = config_module.load(write(tmp_path, task="regression", label=label, gate={}))
    assert plain.gate.primary_metric == "rmse"
    with pytest.raises(ConfigError, match=r"gate.thresholds: 'auc' is not a metric of a regression task; "
                                          r"its metrics: rmse, mae, r2"):
        config_module.load(write(tmp_path, task="regression", label=label, gate={"thresholds": {"auc": 0.7}}))
    with pytest.raises(ConfigError, match=r"gate.primary_metric: 'rmse' is not a metric of a binary task"):
        config_module.load(write(tmp_path, gate={"primary_metric": "rmse"}))
    with pytest.raises(ConfigError, match=r"label: a regression label is a numeric column"):
        config_module.load(write(tmp_path, task="regression", gate={}))  # taxi's derived label
    with pytest.raises(ConfigError, match=r"task: unknown task 'regresion'. Did you mean 'regression'\?"):
        config_module.load(write(tmp_path, task="regresion"))
