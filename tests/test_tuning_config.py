"""`tuning:` in a candidate's config: what loads, what is refused (naming the key), and
how a point of the space is asked of an Optuna trial."""
import pytest
import yaml

from sluice_config import config as config_module
from sluice_config.errors import ConfigError
from sluice_config.tuning import Tuning, suggest

pytestmark = pytest.mark.unit
SPACE = {"learning_rate": {"float": [0.001, 0.1], "log": True}, "units": {"int": [16, 128], "step": 16},
         "hidden_units": {"choice": [[32, 16], [64]]}, "optimizer": {"choice": ["adam", "sgd"]}}


def load(tmp_path, tuning) -> config_module.PipelineConfig:
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw["data"] = str(config_module.load("taxi").data)
    raw["schema"] = str(config_module.load("taxi").schema)
    raw["candidates"] = {"keras_mlp": {"framework": "keras", "tuning": tuning}, "torch_mlp": "torch"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return config_module.load(path)


def test_a_tuning_section_loads_typed_and_survives_the_steps_json(tmp_path):
    config = load(tmp_path, {"space": SPACE, "trials": 6, "workers": 2, "pruner": "none"})
    tuning = config.candidate("keras_mlp").tuning
    assert tuning == Tuning(space=SPACE, trials=6, workers=2, pruner="none")
    assert config.candidate("torch_mlp").tuning is None
    again = config_module.PipelineConfig.from_custom_config(config.to_dict())
    assert again.candidate("keras_mlp").tuning == tuning and again == config


@pytest.mark.parametrize("tuning, message", [
    ({"space": SPACE, "trails": 3}, r"tuning: unknown key 'trails'. Did you mean 'trials'"),
    ({"trials": 3}, r"candidates.keras_mlp.tuning.space: expected a mapping"),
    ({"space": {"lr": {"float": [0.1, 0.01]}}}, r"space.lr.float: low \(0.1\) must be below high"),
    ({"space": {"lr": {"float": [0, 0.1], "log": True}}}, r"space.lr: a log scale needs low > 0"),
    ({"space": {"lr": {"floot": [0, 0.1]}}}, r"space.lr: expected exactly one of"),
    ({"space": {"units": {"int": [1.5, 4]}}}, r"space.units.int: expected \[low, high\], two ints"),
    ({"space": {"units": {"int": [1, 4], "log": True, "step": 2}}}, r"give log or step, not both"),
    ({"space": {"opt": {"choice": []}}}, r"space.opt.choice: expected a list"),
    ({"space": {"opt": {"choice": ["a"], "log": True}}}, r"unknown option 'log' for choice"),
    ({"space": SPACE, "trials": 2, "workers": 3}, r"tuning.workers: expected 1 up to trials \(2\)"),
    ({"space": SPACE, "fraction": 1.0}, r"tuning.fraction: the tuning split's share"),
    ({"space": SPACE, "pruner": "medain"}, r"unknown pruner 'medain'. Did you mean 'median'"),
    ({"space": SPACE, "trials": "many"}, r"tuning.trials: expected a number"),
])
def test_a_wrong_tuning_section_is_refused_at_load_naming_the_key(tmp_path, tuning, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, tuning)


def test_suggest_asks_each_kind_within_its_bounds_and_gives_lists_back_whole():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    points = []
    for _ in range(30):
        trial = study.ask()
        points.append(suggest(trial, SPACE))
        study.tell(trial, 0.0)
    assert all(0.001 <= p["learning_rate"] <= 0.1 for p in points)
    assert {p["units"] for p in points} <= set(range(16, 129, 16))
    assert {tuple(p["hidden_units"]) for p in points} == {(32, 16), (64,)}
    assert {p["optimizer"] for p in points} == {"adam", "sgd"}


def test_a_module_with_its_own_run_fn_cannot_be_tuned(tmp_path, monkeypatch):
    from trainers import module_contract

    (tmp_path / "own_loop.py").write_text("def run_fn(fn_args):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = load(tmp_path, {"space": SPACE})
    candidate = config.candidate("keras_mlp")
    config = config.replace(candidates=(candidate.__class__(**{**candidate.__dict__, "module": "own_loop"}),))
    with pytest.raises(ConfigError, match=r"candidates.keras_mlp.tuning: own_loop trains by its own run_fn"):
        module_contract.check_all(config)
