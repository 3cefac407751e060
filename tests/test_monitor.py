"""`sluice monitor` on the champion of a real pipeline run: rows drawn like the
training data pass; rows with one feature shifted exit 3 naming it; a request log of
the server is read as it is written; the report renders in headless Chromium and the
run is recorded in MLflow against the model version."""
import shutil

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import run_sluice

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


@pytest.fixture(scope="module")
def home(first_run, tmp_path_factory):
    home, result = first_run
    assert result.returncode == 0
    copy = tmp_path_factory.mktemp("monitor") / "home"
    shutil.copytree(home, copy)
    return copy


def monitor_runs(home):
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    return client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`sluice.kind` = 'monitor'", order_by=["attributes.start_time DESC"])


def test_rows_like_the_training_data_pass(home, taxi_sample, tmp_path):
    served = tmp_path / "served.csv"
    pd.read_csv(taxi_sample).sample(frac=1.0, random_state=3).to_csv(served, index=False)
    report = tmp_path / "report.html"
    result = run_sluice("monitor", "--home", home, "--data", served, "-o", report)
    assert result.returncode == 0, result.stderr
    assert "every feature and the predictions are within the bounds" in result.stderr
    text = report.read_text()
    assert "Skew per feature" in text and "CROSSED" not in text and text.count("<img") >= 10
    run = monitor_runs(home)[0]
    assert run.data.tags["sluice.model_name"] == MODEL and run.data.tags["sluice.model_version"] == "1"
    assert run.data.tags["sluice.crossed"] == "" and run.data.metrics["rows"] == 2000
    assert "skew.trip_miles" in run.data.metrics


def test_a_shifted_feature_exits_3_and_is_named(home, taxi_sample, tmp_path, browser):
    frame = pd.read_csv(taxi_sample)
    frame["trip_miles"] = frame["trip_miles"] * 3 + 5
    served = tmp_path / "served.csv"
    frame.to_csv(served, index=False)
    report = tmp_path / "report.html"
    result = run_sluice("monitor", "--home", home, "--data", served, "-o", report)
    assert result.returncode == 3
    assert "bounds crossed: trip_miles" in result.stderr
    assert monitor_runs(home)[0].data.tags["sluice.crossed"] == "trip_miles"
    browser.goto(report.as_uri())
    text = browser.wait_for_text("Serving traffic against training data", "trip_miles", "CROSSED")
    assert "Bounds crossed: trip_miles" in text
    loaded = browser.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length")
    assert loaded >= 10  # the plots decoded


def test_the_request_log_is_read_and_since_filters_it(home, taxi_sample, tmp_path):
    from serving.server.process import ServerProcess

    log_dir = tmp_path / "log"
    frame = pd.read_csv(taxi_sample).head(300)
    with ServerProcess(home / "serving", "--request-log", str(log_dir)) as server:
        server.wait_ready({MODEL: 1})
        from serving.model_format.model import ServableModel

        names = ServableModel(home / "serving" / MODEL / "1").feature_names
        rows = [{c: (None if pd.isna(r[c]) else r[c].item() if hasattr(r[c], "item") else r[c]) for c in names}
                for _, r in frame.iterrows()]
        for start in range(0, 300, 30):
            assert server.post(f"/v1/models/{MODEL}:predict", {"instances": rows[start:start + 30]})[0] == 200
    result = run_sluice("monitor", "--home", home, "--data", log_dir, "--since", "1h", "-o", tmp_path / "r.html")
    assert result.returncode in (0, 3), result.stderr
    assert "monitor: 300 served rows" in result.stderr
    later = run_sluice("monitor", "--home", home, "--data", log_dir, "--since", "2100-01-01T00:00")
    assert later.returncode == 2 and "no served rows since 2100-01-01T00:00" in later.stderr


def test_a_running_servers_log_is_monitored_without_stopping_it(home, taxi_sample, tmp_path):
    """The request log's open .part file is read up to its last whole line while the
    server keeps serving."""
    import time

    from serving.model_format.model import ServableModel
    from serving.server.process import ServerProcess

    log_dir = tmp_path / "live"
    frame = pd.read_csv(taxi_sample).head(120)
    names = ServableModel(home / "serving" / MODEL / "1").feature_names
    rows = [{c: (None if pd.isna(r[c]) else r[c].item() if hasattr(r[c], "item") else r[c]) for c in names}
            for _, r in frame.iterrows()]
    with ServerProcess(home / "serving", "--request-log", str(log_dir)) as server:
        server.wait_ready({MODEL: 1})
        for start in range(0, 120, 40):
            assert server.post(f"/v1/models/{MODEL}:predict", {"instances": rows[start:start + 40]})[0] == 200
        time.sleep(1)  # the writer flushes when its queue runs empty
        assert list(log_dir.glob(f"{MODEL}/*.part")) and not list(log_dir.glob(f"{MODEL}/*.csv"))
        result = run_sluice("monitor", "--home", home, "--data", log_dir, "-o", tmp_path / "live.html")
        assert server.process.poll() is None  # still serving
    assert result.returncode in (0, 3), result.stderr
    assert "monitor: 120 served rows" in result.stderr


def test_the_schema_is_the_one_the_version_was_validated_with(home, taxi_sample, tmp_path):
    """A user edits the schema in place after the push: monitor still judges the served
    rows by the schema recorded with the version's run."""
    import yaml

    from sluice_config import config as config_module

    schema = tmp_path / "schema.pbtxt"
    text = config_module.load("taxi").schema.read_text()
    schema.write_text(text.replace('  value: "Credit Card"\n', "", 1))  # the most common value
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema=str(schema))
    config = tmp_path / "taxi.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = run_sluice("monitor", "--home", home, "--config", config, "--data", taxi_sample,
                        "-o", tmp_path / "r.html")
    assert result.returncode == 0, result.stderr
    assert "no recorded schema" not in result.stderr
