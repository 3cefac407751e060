"""Tuning end to end, on a user's project (2,000 taxi rows): a built-in Keras candidate
and the user's PyTorch module, each as given and tuned, trained and judged side by side
by the same gate. The tuned ones beat their untuned selves on the eval rows; the pushed
version's lineage names the trial that chose its values; an unchanged rerun reuses the
best point without a trial; `sluice reproduce` retrains with the recorded values and
does not search again."""
import json
import shutil
import subprocess
import sys

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines.lineage.run_report import RunReport
from sluice_config import config as config_module
from sluice_config import step_ids
from tests.conftest import ROOT, sluice_env

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"
GIVEN = {"learning_rate": 0.001}  # too slow for 60 steps: what tuning should find out
SPACE = {"learning_rate": {"float": [0.005, 0.08], "log": True}}
TRIALS = 3
CANDIDATES = {
    "keras_given": {"framework": "keras", "hyperparameters": GIVEN},
    "keras_tuned": {"framework": "keras", "hyperparameters": GIVEN,
                    "tuning": {"space": {**SPACE, "hidden_units": {"choice": [[16], [32, 16]]}}, "trials": TRIALS}},
    "resnet_given": {"framework": "torch", "module": "my_models.tab_resnet", "hyperparameters": GIVEN},
    "resnet_tuned": {"framework": "torch", "module": "my_models.tab_resnet", "hyperparameters": GIVEN,
                     "tuning": {"space": {**SPACE, "width": {"int": [16, 64], "step": 16}}, "trials": TRIALS,
                                "workers": 2}},
}


def client(home) -> MlflowClient:
    return MlflowClient(f"sqlite:///{home / 'mlflow.db'}")


@pytest.fixture(scope="module")
def ran(tmp_path_factory, taxi_sample):
    """The project run from a clean clone of HEAD (reproduce checks out the recorded commit)."""
    work = tmp_path_factory.mktemp("tuning")
    source, home, project = work / "source", work / "home", work / "project"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(source)], check=True)
    (project / "my_models").mkdir(parents=True)
    (project / "my_models" / "__init__.py").write_text("")
    shutil.copy(ROOT / "trainers" / "examples" / "tab_resnet.py", project / "my_models")
    shutil.copy(config_module.load("taxi").schema, project / "schema.pbtxt")
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema="schema.pbtxt", candidates=CANDIDATES)
    (project / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    def sluice(*args):
        return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=source,
                              env={**sluice_env(), "PYTHONPATH": str(source)}, capture_output=True,
                              text=True, timeout=1200)

    first = sluice("run", "--home", home, "--config", project / "config.yaml", "--steps", 60)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    return home, project, first, sluice


def parent_runs(home) -> list:
    experiment = client(home).get_experiment_by_name(MODEL)
    return sorted((r for r in client(home).search_runs([experiment.experiment_id])
                   if "mlflow.parentRunId" not in r.data.tags), key=lambda r: r.info.start_time)


def test_tuned_candidates_beat_their_untuned_selves_under_the_same_gate(ran):
    home, _, first, _ = ran
    evaluations = RunReport(parent_runs(home)[0].info.run_id, f"sqlite:///{home / 'mlflow.db'}").evaluations()
    auc = {name: e["metrics"]["overall"]["auc"] for name, e in evaluations.items()}
    assert set(auc) == set(CANDIDATES)
    assert auc["keras_tuned"] > auc["keras_given"] and auc["resnet_tuned"] > auc["resnet_given"], auc
    log = first.stdout + first.stderr
    assert "tune_keras_tuned" in log and "tune_resnet_tuned" in log and "tune_keras_given" not in log


def test_each_trial_is_a_run_under_its_tune_step_and_the_pushed_version_names_its_trial(ran):
    home, project, _, sluice = ran
    parent = parent_runs(home)[0]
    runs = client(home).search_runs([parent.info.experiment_id])
    by_id = {r.info.run_id: r for r in runs}
    steps = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    for name in ("keras_tuned", "resnet_tuned"):
        tune = steps[step_ids.tune(name)]
        trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == tune.info.run_id]
        assert len(trials) == TRIALS and {r.data.tags["sluice.trial_state"] for r in trials} <= {"COMPLETE", "PRUNED"}
        best = [r for r in trials if r.data.tags.get("sluice.best_trial") == "true"]
        assert len(best) == 1 and int(tune.data.metrics["best_trial"]) == int(best[0].data.tags["sluice.trial"])
        assert set(json.loads(tune.data.tags["sluice.best_hyperparameters"])) == set(CANDIDATES[name]["tuning"]["space"])
        assert {a.path for a in client(home).list_artifacts(tune.info.run_id)} >= {
            "optimization_history.png", "param_importances.png", "trials.json"}
    report = (home / "reports" / parent.info.run_id / "report.html").read_text()
    assert "<h2>Tuning</h2>" in report and report.count('alt="optimization_history.png"') == 2
    champion = client(home).get_model_version_by_alias(MODEL, "champion")
    name = champion.tags["sluice.candidate"]
    assert name in ("keras_tuned", "resnet_tuned")
    trial = by_id[champion.tags["sluice.tuning.trial_run_id"]]
    assert trial.data.tags["mlflow.parentRunId"] == steps[step_ids.tune(name)].info.run_id
    assert trial.data.tags["sluice.trial"] == champion.tags["sluice.tuning.trial"]
    values = json.loads(champion.tags["sluice.tuning.values"])
    trained = json.loads(champion.tags["sluice.hyperparameters"])
    assert values and all(trained[k] == v for k, v in values.items())  # trained with the trial's point
    lineage = sluice("lineage", "--home", home, "--config", project / "config.yaml")
    assert f"tuned          by trial {champion.tags['sluice.tuning.trial']} of study" in lineage.stdout


def test_an_unchanged_rerun_reuses_the_best_point_without_a_trial(ran):
    home, project, _, sluice = ran
    # one candidate of the same config: the run is not skipped, its unchanged steps are reused
    again = sluice("run", "--home", home, "--config", project / "config.yaml", "--steps", 60,
                   "--trainer", "keras_tuned")
    assert again.returncode == 0, again.stderr[-3000:]
    second = parent_runs(home)[-1]
    runs = client(home).search_runs([second.info.experiment_id])
    tune = next(r for r in runs if r.info.run_name == "tune_keras_tuned"
                and r.data.tags.get("mlflow.parentRunId") == second.info.run_id)
    assert tune.data.tags["sluice.state"] == "CACHED"
    train = next(r for r in runs if r.info.run_name == "train_keras_tuned"
                 and r.data.tags.get("mlflow.parentRunId") == second.info.run_id)
    assert train.data.tags["sluice.state"] == "CACHED"
    assert not [r for r in runs if r.data.tags.get("mlflow.parentRunId") == tune.info.run_id]


def test_reproduce_retrains_with_the_recorded_values_without_searching_again(ran):
    home, _, _, sluice = ran
    result = sluice("reproduce", f"models:/{MODEL}@champion", "--home", home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    champion = client(home).get_model_version_by_alias(MODEL, "champion")
    outcome = champion.tags["sluice.reproduction.result"]
    assert outcome == "exact" or outcome.startswith("reproduced: metrics within 0.005"), outcome
    reproduction = MlflowClient(f"sqlite:///{champion.tags['sluice.reproduction.home']}/mlflow.db")
    names = {r.info.run_name for r in reproduction.search_runs(
        [reproduction.get_experiment_by_name(MODEL).experiment_id])}
    assert step_ids.train(champion.tags["sluice.candidate"]) in names
    assert not [n for n in names if n.startswith(f"{step_ids.TUNE}_") or n.startswith("trial-")]
