"""MLflow is process-wide state; sluice does not lean on it. A library user who set their
own tracking URI runs the pipeline for two homes, one after the other, in one Python
process, each with its own store (--tracking-uri): each home's record (parent run, step
runs, registered version) lands in its own store, nothing in the user's, and the
user's URI is as they left it."""
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT, sluice_env

pytestmark = pytest.mark.e2e

SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import mlflow
    from pipelines.cli import main

    mine = sys.argv[1]
    mlflow.set_tracking_uri(mine)
    for home in sys.argv[3:]:
        code = main(["run", "--home", home, "--data", sys.argv[2], "--trainer", "keras", "--steps", "30",
                     "--tracking-uri", f"sqlite:///{home}/mlflow.db"])
        assert code == 0, (home, code)
        assert mlflow.get_tracking_uri() == mine, mlflow.get_tracking_uri()
    print("both ran")
""")


def test_two_homes_in_one_process_write_to_their_own_stores(tmp_path, taxi_sample):
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    homes = [tmp_path / "a", tmp_path / "b"]
    done = subprocess.run([sys.executable, "-c", SCRIPT, mine, str(taxi_sample), *map(str, homes)],
                          cwd=ROOT, env=sluice_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0 and "both ran" in done.stdout, done.stderr[-4000:]
    for home in homes:
        client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("sluice-taxi")
        runs = client.search_runs([experiment.experiment_id])
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        assert len(parents) == 1 and len(runs) > 10  # its own parent and its steps, no other's
        assert parents[0].data.tags["sluice.pipeline_root"].startswith(str(home))
        champion = client.get_model_version_by_alias("sluice-taxi", "champion")
        assert champion.tags["sluice.serving_path"] == str(home / "serving" / "sluice-taxi" / "1")
    theirs = MlflowClient(mine)
    assert theirs.get_experiment_by_name("sluice-taxi") is None
    assert theirs.search_registered_models() == []
