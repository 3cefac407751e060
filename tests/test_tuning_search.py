"""The tune step's search on the stored upstream outputs (300 taxi rows through the
real Transform): trials of either framework scored on the tuning split, a pruner that
stops a bad region early, a broken point that fails its trial alone, two worker
processes sharing one study; and the step in the DAG and both compiled orchestrators."""
import dataclasses
import json

import pytest
import yaml

from components.tuning import results
from components.tuning.search import REPEAT, Search, run
from sluice_config import config as config_module
from sluice_config import step_ids
from sluice_config.config import Candidate
from sluice_config.tuning import Tuning
from tests.conftest import run_sluice

pytestmark = pytest.mark.component
BROKEN_WHEN_WIDE = '''
import torch
from torch import nn

from trainers.builtin.torch_mlp import build_model as mlp


def build_model(features, hparams):
    if hparams["width"] > 32:  # breaks the contract: one column too many
        return nn.Sequential()
    return mlp(features, {**hparams, "hidden_units": [hparams["width"]]})
'''


def searched(upstream, tmp_path, candidate: Candidate, steps=40, storage="", **tuning):
    config, _, examples, graph = upstream
    candidate = dataclasses.replace(candidate, tuning=Tuning(**tuning))
    config = config.replace(candidates=(candidate,),
                            training=dataclasses.replace(config.training, steps=steps))
    search = Search(config, candidate.name, str(graph), (f"{examples}/Split-train/*",),
                    storage or f"sqlite:///{tmp_path / 'optuna.db'}", f"test.{candidate.name}")
    return search, run(search)


def states(study) -> list[str]:
    return [t.state.name for t in study.trials]


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_trials_of_either_framework_are_scored_by_the_gates_metric_on_the_tuning_split(
        upstream, tmp_path, framework):
    search, study = searched(upstream, tmp_path, Candidate(framework, framework), trials=3,
                             space={"learning_rate": {"float": [0.003, 0.05], "log": True}},
                             pruner="none", report_every=10)
    assert states(study) == ["COMPLETE"] * 3
    assert search.metric == "auc" and search.direction == "maximize"
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == [10, 20, 30, 40]  # every report_every steps
        assert 0.5 < trial.value <= 1 and trial.value == trial.intermediate_values[40]
    summary = results.write(study, search, tmp_path / "best", tmp_path / "results", 1.0)
    best = json.loads((tmp_path / "best" / results.BEST_FILE).read_text())
    assert list((tmp_path / "best").iterdir()) == [tmp_path / "best" / results.BEST_FILE]  # the Trainer reads the only file
    assert best["values"] == study.best_trial.params and best["tuning"]["trial"] == study.best_trial.number
    assert summary["value"] == max(t.value for t in study.trials)
    assert (tmp_path / "results" / results.HISTORY_PLOT).stat().st_size > 1000


def test_the_median_pruner_stops_trials_in_a_bad_region_early(upstream, tmp_path):
    """Learning rates below 1e-4 leave the network near where it started; after two
    complete trials the median pruner stops such a trial at its first report."""
    search, study = searched(upstream, tmp_path, Candidate("keras", "keras"), steps=60, trials=6,
                             space={"learning_rate": {"float": [1e-7, 0.05], "log": True}},
                             pruner="median", startup_trials=2, report_every=10, seed=5)
    pruned = [t for t in study.trials if t.state.name == "PRUNED" and REPEAT not in t.user_attrs]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert pruned, states(study)
    assert all(max(t.intermediate_values) < 60 for t in pruned)  # stopped before the last step
    assert all(len(t.intermediate_values) == 6 for t in complete)
    bad = [t for t in study.trials[2:] if t.params["learning_rate"] < 1e-4]
    assert bad and all(t in pruned and len(t.intermediate_values) == 1 for t in bad)
    best = max(complete, key=lambda t: t.value)
    assert all(t.intermediate_values[10] < best.intermediate_values[10] for t in pruned)


def test_a_point_that_breaks_the_module_fails_its_trial_and_the_search_goes_on(
        upstream, tmp_path, monkeypatch):
    (tmp_path / "wide_breaks.py").write_text(BROKEN_WHEN_WIDE)
    monkeypatch.syspath_prepend(str(tmp_path))
    search, study = searched(upstream, tmp_path, Candidate("wide_breaks", "torch", "wide_breaks"), trials=6,
                             space={"width": {"int": [8, 64], "step": 8}}, pruner="none", seed=1)
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert failed and complete
    assert all(t.params["width"] > 32 for t in failed) and all(t.params["width"] <= 32 for t in complete)
    assert all("wide_breaks.build_model (candidate wide_breaks)" in t.user_attrs["error"] for t in failed)
    assert study.best_trial.params["width"] <= 32


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    """SQLite in the home (the default), or a team's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'optuna.db'}"
        return
    from tests.postgres import PostgresCluster

    cluster = PostgresCluster()
    try:
        yield cluster.create_database("optuna")
    finally:
        cluster.stop()


def test_two_worker_processes_share_one_study_and_never_train_a_point_twice(upstream, tmp_path, storage):
    search, study = searched(upstream, tmp_path, Candidate("torch", "torch"), trials=6, workers=2,
                             space={"hidden_units": {"choice": [[8], [16], [32]]},
                                    "learning_rate": {"choice": [0.01, 0.03]}}, pruner="none",
                             storage=storage)
    assert search.storage.split(":")[0] == storage.split(":")[0]
    assert len(study.trials) == 6  # 3 + 3, one share per process
    trained = [t for t in study.trials if REPEAT not in t.user_attrs]
    points = [json.dumps(t.params, sort_keys=True) for t in trained]
    assert len(points) == len(set(points)) and len(trained) >= 2
    for t in study.trials:
        if REPEAT in t.user_attrs:
            assert t.params == study.trials[t.user_attrs[REPEAT]].params and not t.intermediate_values


def tuned_config(tmp_path) -> config_module.PipelineConfig:
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw["data"], raw["schema"] = str(config_module.load("taxi").data), str(config_module.load("taxi").schema)
    raw["candidates"] = {"keras_mlp": {"framework": "keras", "tuning": {
        "space": {"learning_rate": {"float": [0.001, 0.1], "log": True}}}}, "torch_mlp": "torch"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return config_module.load(tmp_path / "config.yaml")


def test_a_tuned_candidate_gets_a_tune_step_whose_best_point_the_trainer_takes(tmp_path):
    from pipelines.definition.dag import CONTENT_KEY, create_pipeline
    from pipelines.definition.home_layout import Paths

    pipeline = create_pipeline(tuned_config(tmp_path), Paths(tmp_path / "home"))
    nodes = {c.id: c for c in pipeline.components}
    tune, train = nodes[step_ids.tune("keras_mlp")], nodes[step_ids.train("keras_mlp")]
    assert step_ids.tune("torch_mlp") not in nodes  # no tuning: no step
    assert train.inputs["hyperparameters"] is tune.outputs["best_hyperparameters"]
    assert nodes[step_ids.train("torch_mlp")].inputs.get("hyperparameters") is None
    assert tune.exec_properties[CONTENT_KEY] == train.exec_properties[CONTENT_KEY]
    assert tune.exec_properties["storage"] == f"sqlite:///{(tmp_path / 'home').resolve()}/tuning/optuna.db"
    untuned = create_pipeline(config_module.load("taxi"), Paths(tmp_path / "home"))
    assert not [c.id for c in untuned.components if c.id.startswith(step_ids.TUNE)]


def test_the_tune_step_compiles_for_kubeflow_and_airflow(tmp_path):
    config = tuned_config(tmp_path).source
    kfp = run_sluice("compile", "kubeflow", "-o", tmp_path / "pipeline.json", "--config", config,
                     "--image", "registry.local/sluice:7")
    dags = run_sluice("compile", "airflow", "-o", tmp_path / "dags", "--config", config)
    assert kfp.returncode == 0 and dags.returncode == 0, kfp.stderr + dags.stderr
    tasks = json.loads((tmp_path / "pipeline.json").read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "tune_keras_mlp" in tasks["train_keras_mlp"]["dependentTasks"]
    assert tasks["tune_keras_mlp"]["dependentTasks"] == ["Transform"]
    local = json.loads((tmp_path / "dags" / "sluice_taxi.json").read_text())
    assert "tune_keras_mlp" in {s["id"] for s in local["steps"]}
