"""End-to-end: the gates cannot be bypassed. The real CLI on 2,000 rows, in one home:
a stale blessing is re-judged against the version serving now, a rollback sticks, a
drifted file stops before Transform, and two runs started together agree about what
is served."""
import json
import random
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from serving.model_format import push_target as push
from sluice_config import config as config_module
from tests.conftest import SLUICE, run_sluice, sluice_env
from tests.test_preflight import rows_of, write_rows

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


def client(home: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{home / 'mlflow.db'}")


def last_parent(home: Path):
    c = client(home)
    experiment = c.get_experiment_by_name("sluice-taxi")
    runs = c.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    return parent, children


def champion_serving_path(home: Path) -> str:
    return client(home).get_model_version_by_alias(MODEL, "champion").tags["sluice.serving_path"]


@pytest.fixture(scope="module")
def lenient_config(tmp_path_factory, taxi_sample):
    """The taxi config on the sample with a lenient regression gate and promotion rule,
    so every blessed candidate can be pushed and the scenario does not hinge on a
    metric's noise."""
    return gate_config(tmp_path_factory, taxi_sample, "lenient", min_improvement=-1.0,
                       allow_equal=True, promotion={"confidence": 0})


def gate_config(tmp_path_factory, taxi_sample, name, **gate):
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema=str(config_module.load("taxi").schema),
               gate={"primary_metric": "auc", "thresholds": {"auc": 0.5},
                     "max_regression": {"auc": 0.5}, **gate})
    path = tmp_path_factory.mktemp("config") / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("gates")


def test_stale_blessing_is_rejudged_against_the_serving_version(home, lenient_config):
    first = run_sluice("run", "--home", home, "--config", lenient_config, "--steps", 60)
    assert first.returncode == 0 and push.versions(home / "serving", MODEL) == [1]
    winner = push.push_record(home / "serving" / MODEL / "1")["framework"]
    loser = "torch" if winner == "keras" else "keras"
    # A second model (more steps) becomes v2, judged against v1.
    second = run_sluice("run", "--home", home, "--config", lenient_config, "--steps", 90,
                        "--trainer", winner)
    assert second.returncode == 0 and push.versions(home / "serving", MODEL) == [1, 2]
    assert push.push_record(home / "serving" / MODEL / "2")["baseline_version"] == 1
    # The first run's runner-up was blessed against no champion; it must not ride on it.
    third = run_sluice("run", "--home", home, "--config", lenient_config, "--steps", 60,
                       "--trainer", loser)
    assert third.returncode == 0
    parent, steps = last_parent(home)
    assert steps[f"evaluate_{loser}"].data.tags["sluice.state"] == "COMPLETE"
    assert steps[f"train_{loser}"].data.tags["sluice.state"] == "CACHED"
    evaluation = json.loads((Path(steps[f"evaluate_{loser}"].data.tags["sluice.output.blessing"])
                             / "evaluation.json").read_text())
    assert evaluation["baseline_version"] == 2 and evaluation["champion"]["version"] == 2
    assert any("vs champion v2" in r for r in evaluation["reasons"])
    assert f"evaluate_{loser}" in third.stderr and "vs v2" in third.stderr
    assert push.versions(home / "serving", MODEL) == [1, 2, 3]
    champion = client(home).get_model_version_by_alias(MODEL, "champion")
    assert champion.tags["sluice.baseline_version"] == "2"
    assert champion.tags["sluice.serving_path"].endswith(f"{MODEL}/3")
    lineage = run_sluice("lineage", "--home", home, "--config", lenient_config)
    assert "judged against serving version 2" in lineage.stdout


def test_a_blessed_but_worse_candidate_does_not_replace_the_champion(home, tmp_path_factory,
                                                                   taxi_sample):
    """Within the regression tolerance (blessed) but not better than the champion on the
    same rows: recorded as blessed, not promoted, with both figures; v3 stays."""
    strict = gate_config(tmp_path_factory, taxi_sample, "strict", thresholds={},
                         max_regression={"auc": 1.0})
    before = champion_serving_path(home)
    result = run_sluice("run", "--home", home, "--config", strict, "--steps", 2,
                        "--trainer", "keras")
    assert result.returncode == 0, result.stderr
    assert "BLESSED" in result.stderr and "blessed, not promoted" in result.stderr
    assert re.search(r"auc 0\.\d{4} vs the champion's 0\.\d{4}: improvement -0\.\d{4}",
                     result.stderr), result.stderr
    assert push.versions(home / "serving", MODEL) == [1, 2, 3]
    assert champion_serving_path(home) == before
    parent, steps = last_parent(home)
    decision = json.loads((Path(steps["push"].data.tags["sluice.output.pushed_model"])
                           / "decision.json").read_text())
    assert decision["promoted"] is False and decision["pushed"] is False


def test_rollback_sticks_through_a_rerun(home, lenient_config):
    rolled = run_sluice("rollback", "--home", home, "--config", lenient_config, "--to", 2,
                        "--reason", "test")
    assert rolled.returncode == 0 and push.versions(home / "serving", MODEL) == [1, 2]
    assert champion_serving_path(home).endswith(f"{MODEL}/2")
    loser = push.push_record(home / "serving" / MODEL / push.ROLLED_BACK / "3")["framework"]
    rerun = run_sluice("run", "--home", home, "--config", lenient_config, "--steps", 60,
                       "--trainer", loser)
    assert rerun.returncode == 0
    assert "taken out of service by a rollback: not pushed again" in rerun.stderr
    assert push.versions(home / "serving", MODEL) == [1, 2]
    assert push.rolled_back(home / "serving", MODEL) == [3]
    assert champion_serving_path(home).endswith(f"{MODEL}/2")


def test_drift_from_the_serving_models_data_stops_before_transform(home, lenient_config, taxi_sample,
                                                                   tmp_path):
    rows = rows_of(taxi_sample)  # csv, not pandas: pandas would turn int columns with gaps to float
    column = rows[0].index("trip_miles")
    for row in rows[1:]:
        row[column] = str(float(row[column]) * 1000) if row[column] else ""
    drifted = tmp_path / "drifted.csv"
    write_rows(drifted, rows)
    result = run_sluice("run", "--home", home, "--config", lenient_config, "--data", drifted)
    assert result.returncode == 3
    # The pinned reference, not the champion (v2): the first champion's data.
    assert "drifted from the drift reference (pinned: the first champion's data (version 1))" \
        in result.stderr
    assert "trip_miles" in result.stderr and "jensen_shannon_divergence" in result.stderr
    assert not re.search(r"Execution \d+ failed", result.stderr)  # TFX's bare line, dropped
    assert "--accept-drift" in result.stderr
    parent, steps = last_parent(home)
    assert parent.info.status == "FAILED" and "Transform" not in steps
    assert push.versions(home / "serving", MODEL) == [1, 2]
    accepted = run_sluice("run", "--home", home, "--config", lenient_config, "--data", drifted,
                          "--accept-drift", "--trainer", "keras")
    assert accepted.returncode == 0 and "(drift accepted)" in accepted.stderr
    parent, steps = last_parent(home)
    assert parent.data.params["drift.accept"] == "True"
    assert steps["check_anomalies"].data.metrics["drift_accepted"] == 1


def test_failed_run_leaves_its_traceback_and_a_killed_run_is_found(home, lenient_config, tmp_path):
    bad = tmp_path / "bad.yaml"
    raw = yaml.safe_load(lenient_config.read_text())
    raw["preprocessing_fn"] = "trainers.builtin.default_preprocessing.no_such_fn"
    bad.write_text(yaml.safe_dump(raw))
    failed = run_sluice("run", "--home", home, "--config", bad)
    assert failed.returncode == 2
    last_line = failed.stderr.strip().splitlines()[-1]
    assert "full log and traceback:" in last_line
    log_file = Path(last_line.split("full log and traceback:")[1].strip())
    assert log_file.parent == home / "logs" and "Traceback" in log_file.read_text()
    parent, _ = last_parent(home)
    assert parent.info.status == "FAILED"
    artifacts = client(home).list_artifacts(parent.info.run_id, "logs")
    assert [a.path for a in artifacts] == [f"logs/{log_file.name}"]

    # (--accept-drift: the champion now is the one trained on the drifted file above.)
    process = subprocess.Popen([str(SLUICE), "run", "--home", str(home), "--config",
                                str(lenient_config), "--steps", "70", "--force", "--accept-drift"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=sluice_env())
    for line in process.stdout:
        if "▶ Transform" in line or "▶ train_" in line:
            process.kill()
            break
    process.wait()
    killed_parent, _ = last_parent(home)
    assert killed_parent.info.status == "RUNNING"
    rerun = run_sluice("run", "--home", home, "--config", lenient_config, "--trainer", "keras",
                       "--steps", 60, "--force", "--accept-drift")
    assert rerun.returncode == 0
    found = client(home).get_run(killed_parent.info.run_id)
    assert found.info.status == "KILLED"
    assert found.data.tags["sluice.killed_at_step"] in ("Transform", "train_keras", "train_torch",
                                                        "check_anomalies")


def test_two_runs_at_once_agree_about_what_is_served(tmp_path, taxi_sample):
    home = tmp_path / "together"
    header, *rows = rows_of(taxi_sample)
    halves = [tmp_path / "a.csv", tmp_path / "b.csv"]
    random.Random(1).shuffle(rows)
    write_rows(halves[0], [header, *rows])
    write_rows(halves[1], [header, *rows[:1800]])
    runs = [subprocess.Popen([str(SLUICE), "run", "--home", str(home), "--data", str(csv),
                              "--trainer", "torch", "--steps", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=sluice_env())
            for csv in halves]
    logs = [r.communicate(timeout=900)[0] for r in runs]
    print(*logs, sep="\n-----\n")
    assert [r.returncode for r in runs] == [0, 0]
    parents = [r for r in client(home).search_runs(
        [client(home).get_experiment_by_name("sluice-taxi").experiment_id])
        if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}  # both recorded
    served = push.current_version(home / "serving", "sluice-taxi")
    versions = client(home).search_model_versions("name='sluice-taxi'")
    assert len(versions) == len(push.versions(home / "serving", "sluice-taxi"))
    for mv in versions:  # each registered version names its own serving version
        assert mv.tags["sluice.serving_path"].endswith(f"/{mv.tags['sluice.serving_version']}")
        assert f"pushed as version {mv.tags['sluice.serving_version']} " in \
            mv.tags["sluice.push_decision"]
    assert champion_serving_path(home) == str(served)
    # Each run judged against what was serving when it pushed, and logs its own decision.
    decisions = [[line for line in log.splitlines() if "✔ push" in line] for log in logs]
    assert all(len(d) == 1 for d in decisions)
    pushed = [d[0] for d in decisions if "pushed as version" in d[0]]
    assert pushed and all(("version 1 (judged against no champion)" in p) or
                          ("version 2 (judged against v1" in p) for p in pushed)
    assert len({p.split("pushed as version")[1].split()[0] for p in pushed}) == len(pushed)
    # Both were judged at the gate against no champion: the later push was re-judged
    # against v1, then pushed or refused with the reason.
    later = [d[0] for d in decisions if "version 1 (judged against no champion)" not in d[0]]
    assert len(later) == 1 and "re-judged" in later[0], later
