"""`sluice reproduce` on a small run made from a clean checkout of this repository's
HEAD: the champion is rebuilt exactly (both frameworks train deterministically on the
CPU), the outcome is recorded on the model version, and everything that would make a
reproduction a half-reproduction is refused with the reason."""
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT, run_sluice, sluice_env

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


@pytest.fixture(scope="module")
def home(tmp_path_factory, taxi_sample):
    """A torch champion trained from a clean clone of HEAD (a run from a dirty tree is
    refused, rightly, so the run must come from committed code)."""
    work = tmp_path_factory.mktemp("reproduce")
    source, home = work / "source", work / "home"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(source)], check=True)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--home", str(home), "--data", str(taxi_sample),
         "--steps", "60", "--trainer", "torch"],
        cwd=source, env={**sluice_env(), "PYTHONPATH": str(source)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return home


def client(home):
    return MlflowClient(f"sqlite:///{home / 'mlflow.db'}")


def test_champion_is_reproduced_and_recorded(home):
    """Exact on a quiet machine (the normal result); under a parallel test suite the
    reshuffled ExampleGen order can move a quantile boundary, and then the gate metrics
    must still agree within the stated tolerance, and the record says it was not exact."""
    result = run_sluice("reproduce", "--home", home)
    assert result.returncode == 0
    champion = client(home).get_model_version_by_alias(MODEL, "champion")
    outcome = champion.tags["sluice.reproduction.result"]
    if "differ by up to 0.00e+00" in result.stderr:
        assert "reproduced exactly" in result.stderr and outcome == "exact"
    else:
        assert outcome.startswith("reproduced: metrics within 0.005") and "not identical" in outcome
    assert champion.tags["sluice.reproduction.tolerance"] == "1e-06 exact, 0.005 metrics"
    assert champion.tags["sluice.reproduced_at"] and champion.tags["sluice.reproduction.run_id"]
    assert list((home / "serving" / MODEL).glob("[0-9]*")) == [home / "serving" / MODEL / "1"]


def test_changed_or_missing_data_is_refused(home, taxi_sample, tmp_path):
    changed = tmp_path / "changed.csv"
    changed.write_text(taxi_sample.read_text().replace("Cash", "cash", 1))
    result = run_sluice("reproduce", f"{MODEL}/1", "--home", home, "--data", changed)
    assert result.returncode == 2
    assert f"the data file {changed} changed: sha256" in result.stderr
    assert "trained on sha256" in result.stderr and "Pass --data" in result.stderr
    gone = run_sluice("reproduce", "--home", home, "--data", tmp_path / "nope.csv")
    assert gone.returncode == 2 and "is gone; pass --data with the file whose sha256 is" in gone.stderr


@pytest.mark.parametrize("tag, value, message", [
    ("sluice.git_commit", "f" * 40, "is not in the repository"),
    ("sluice.git_commit", "0123abc+dirty", "made from uncommitted changes"),
])
def test_unreachable_commit_is_refused(home, tag, value, message):
    c = client(home)
    original = c.get_model_version(MODEL, "1").tags[tag]
    c.set_model_version_tag(MODEL, "1", tag, value)
    try:
        result = run_sluice("reproduce", f"models:/{MODEL}/1", "--home", home)
    finally:
        c.set_model_version_tag(MODEL, "1", tag, original)
    assert result.returncode == 2 and message in result.stderr


def test_different_lock_is_refused(home):
    c = client(home)
    run_id = c.get_model_version(MODEL, "1").tags["sluice.run_id"]
    original = c.get_run(run_id).data.tags["sluice.lock_sha256"]
    c.set_tag(run_id, "sluice.lock_sha256", "0" * 64)
    try:
        result = run_sluice("reproduce", run_id, "--home", home)
    finally:
        c.set_tag(run_id, "sluice.lock_sha256", original)
    assert result.returncode == 2
    assert "differs from the one version 1 was trained with (sha256 000" in result.stderr


def test_a_user_project_outside_the_checkout_is_reproduced_from_its_record(tmp_path_factory, taxi_sample):
    """A project folder of the user's own (config, schema, a preprocessing_fn that adds a
    feature, a trainer module), trained from a clean clone of HEAD; then the folder is
    deleted: reproduce rebuilds the champion from the MLflow record (the modules and
    the schema, each checked against its digest) and the data file alone."""
    import shutil

    import yaml

    from sluice_config import config as config_module
    from tests.test_candidates import PREPROCESSING

    work = tmp_path_factory.mktemp("user-reproduce")
    source, home, project = work / "source", work / "home", work / "my-project"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(source)], check=True)
    (project / "my_models").mkdir(parents=True)
    shutil.copy(config_module.load("taxi").schema, project / "schema.pbtxt")
    (project / "my_models" / "__init__.py").write_text("")
    shutil.copy(ROOT / "trainers" / "examples" / "tab_resnet.py", project / "my_models")
    (project / "features.py").write_text(PREPROCESSING)
    data = work / "trips.csv"
    shutil.copy(taxi_sample, data)
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(data), schema="schema.pbtxt", preprocessing_fn="features.preprocessing_fn",
               candidates={"resnet": {"framework": "torch", "module": "my_models.tab_resnet",
                                      "hyperparameters": {"blocks": 1}}})
    (project / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    trained = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--home", str(home), "--config",
         str(project / "config.yaml"), "--steps", "60"],
        cwd=source, env={**sluice_env(), "PYTHONPATH": str(source)}, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr[-3000:]
    champion = client(home).get_model_version_by_alias(MODEL, "champion")
    manifest = client(home).download_artifacts(champion.tags["sluice.run_id"], "project/manifest.json",
                                               str(work))
    assert set(__import__("json").loads(open(manifest).read())) == {"features.py", "my_models/__init__.py",
                                                                    "my_models/tab_resnet.py"}
    shutil.rmtree(project)  # nothing of the user's folder is left but the record
    result = run_sluice("reproduce", f"models:/{MODEL}@champion", "--home", home)
    assert result.returncode == 0, result.stderr
    outcome = client(home).get_model_version_by_alias(MODEL, "champion").tags["sluice.reproduction.result"]
    assert outcome == "exact" or outcome.startswith("reproduced: metrics within 0.005"), outcome


def test_a_warm_started_champion_is_reproduced_from_the_same_weights(tmp_path_factory, taxi_sample):
    """v2 starts from v1's weights (warm_start: champion): the registry and lineage say so,
    reproduce serves v1 in its scratch home first and trains from it as the original
    did, and refuses, naming the version, when v1 is gone."""
    import yaml

    from sluice_config import config as config_module

    work = tmp_path_factory.mktemp("warm")
    source, home = work / "source", work / "home"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(source)], check=True)
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema=str(config_module.load("taxi").schema),
               candidates={"torch": {"framework": "torch", "warm_start": "champion"}},
               gate={"primary_metric": "auc", "thresholds": {"auc": 0.5}, "max_regression": {"auc": 0.5},
                     "min_improvement": -1.0, "allow_equal": True, "promotion": {"confidence": 0}})
    config = work / "project" / "warm.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    for steps in (60, 80):
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--home", str(home), "--config", str(config),
             "--steps", str(steps)],
            cwd=source, env={**sluice_env(), "PYTHONPATH": str(source)}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
    v2 = client(home).get_model_version(MODEL, "2")
    assert v2.tags["sluice.warm_started_from"] == "1", v2.tags.get("sluice.warm_start")
    lineage = run_sluice("lineage", "--home", home, "--config", config)
    assert "warm start     from version 1's weights (warm-started from the champion (" in lineage.stdout
    assert 'hyperparams    {}  (as given)' in lineage.stdout and '"hidden_units": [32, 16]' in lineage.stdout

    result = run_sluice("reproduce", f"models:/{MODEL}/2", "--home", home, "--config", config)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = client(home).get_model_version(MODEL, "2").tags["sluice.reproduction.result"]
    assert outcome.startswith(("exact", "reproduced: metrics within")), outcome
    assert outcome.endswith("; started from version 1's weights, as the original"), outcome

    served = home / "serving" / MODEL / "1"
    served.rename(work / "v1-away")
    try:
        gone = run_sluice("reproduce", f"models:/{MODEL}/2", "--home", home, "--config", config)
    finally:
        (work / "v1-away").rename(served)
    assert gone.returncode == 2
    assert "version 2 was warm-started from version 1's weights, and that version is gone" in gone.stderr
