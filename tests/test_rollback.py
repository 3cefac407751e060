"""`sluice rollback` and `sluice models` on a real serving dir and a real MLflow store."""
import json

import pytest
from mlflow.tracking import MlflowClient

from serving.model_format import push_target
from tests.conftest import run_sluice

pytestmark = pytest.mark.component

MODEL = "sluice-taxi"


def fake_push(home, version_dir_name):
    """A pushed version as the pusher leaves it (the server is not involved here)."""
    model_dir = home / "trained" / version_dir_name
    model_dir.mkdir(parents=True)
    (model_dir / "sluice.json").write_text("{}")
    return push_target.push(model_dir, home / "serving", MODEL,
                            {"model_uri": str(model_dir), "framework": "keras", "reason": "test"})


def test_rollback_moves_served_version_and_champion(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    client.create_registered_model(MODEL)
    for name in ("a", "b"):
        version = fake_push(home, name)
        mv = client.create_model_version(
            MODEL, source=str(home / "trained" / name),
            tags={"sluice.serving_path": str(home / "serving" / MODEL / str(version)), "sluice.run_id": "r"})
        client.set_registered_model_alias(MODEL, "champion", mv.version)

    listed = run_sluice("models", "--home", home)
    assert listed.returncode == 0 and "(champion)" in listed.stdout and "serving" in listed.stdout

    result = run_sluice("rollback", "--home", home, "--reason", "canary errors", "--by", "alice")
    assert result.returncode == 0, result.stderr
    assert push_target.versions(home / "serving", MODEL) == [1]
    assert push_target.rolled_back(home / "serving", MODEL) == [2]
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert champion.tags["sluice.rollback.by"] == "alice"
    assert champion.tags["sluice.rollback.reason"] == "canary errors"
    assert "alice" in client.get_model_version(MODEL, "2").tags["sluice.rolled_back"]

    # A new push never reuses a rolled-back number.
    assert fake_push(home, "c") == 3
    marker = json.loads((home / "serving" / MODEL / "3" / push_target.PUSH_MARKER).read_text())
    assert marker["version"] == 3

    again = run_sluice("rollback", "--home", home, "--to", "7")
    assert again.returncode == 2 and "no version 7" in again.stderr
    assert "in service: 1, 3; rolled back: 2" in again.stderr


def test_rollback_goes_both_ways_and_says_when_and_why(tmp_path):
    """After rolling back to v1, v3 (rolled back) serves again, then v2: any version on
    disk, forward or back, each move recorded with its reason; --reason is required
    when the champion alias moves."""
    home = tmp_path / "home"
    home.mkdir()
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    client.create_registered_model(MODEL)
    for name in ("a", "b", "c"):
        version = fake_push(home, name)
        mv = client.create_model_version(
            MODEL, source=str(home / "trained" / name),
            tags={"sluice.serving_path": str(home / "serving" / MODEL / str(version)),
                  "sluice.run_id": "r"})
        client.set_registered_model_alias(MODEL, "champion", mv.version)
    serving = home / "serving"

    unexplained = run_sluice("rollback", "--home", home, "--to", "1")
    assert unexplained.returncode == 2 and "--reason is required" in unexplained.stderr
    assert push_target.versions(serving, MODEL) == [1, 2, 3]

    assert run_sluice("rollback", "--home", home, "--to", "1", "--reason", "bad canary").returncode == 0
    assert push_target.versions(serving, MODEL) == [1]
    assert push_target.rolled_back(serving, MODEL) == [2, 3]

    forward = run_sluice("rollback", "--home", home, "--to", "3", "--reason", "canary was a false alarm")
    assert forward.returncode == 0, forward.stderr
    assert "version 3 is served (forward from 1; brought back from .rolled_back; nothing moved " \
           "aside" in forward.stdout, forward.stdout
    assert push_target.versions(serving, MODEL) == [1, 3]
    assert push_target.current_version(serving, MODEL).name == "3"
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "3"

    middle = run_sluice("rollback", "--home", home, "--to", "2", "--reason", "v3's feature is off")
    assert middle.returncode == 0, middle.stderr
    assert "version 2 is served (back from 3; brought back from .rolled_back; version(s) 3 moved to" \
           in middle.stdout, middle.stdout
    assert push_target.versions(serving, MODEL) == [1, 2]
    assert push_target.rolled_back(serving, MODEL) == [3]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "2"

    history = push_target.rollback_history(serving, MODEL)
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        (3, 1, "bad canary"), (1, 3, "canary was a false alarm"), (3, 2, "v3's feature is off")]
    assert history[1]["restored"] and history[2]["moved_aside"] == [3]

    listed = run_sluice("models", "--home", home).stdout
    lines = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert "in service" in lines["1"] and "serving" in lines["2"] and "(champion)" in lines["2"]
    assert "rolled back 20" in lines["3"] and "[v3's feature is off]" in lines["3"]
