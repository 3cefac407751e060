"""`sluice predict` as a user runs it: a registered champion of each framework scores
a CSV; the answers are the model server's, rows in input order, the job recorded in
MLflow against the model version and listed by `sluice lineage`."""
import csv
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from serving.server.process import ServerProcess
from tests.conftest import run_sluice

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


def champion_framework(home) -> str:
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    return client.get_model_version_by_alias(MODEL, "champion").tags["sluice.trainer"]


@pytest.fixture(scope="module")
def homes(first_run, taxi_sample, tmp_path_factory):
    """framework -> a home whose champion that framework trained: the shared run's, and
    one more run with the other framework alone."""
    home, result = first_run
    assert result.returncode == 0
    first = champion_framework(home)
    other = {"keras": "torch", "torch": "keras"}[first]
    other_home = tmp_path_factory.mktemp("other") / "home"
    done = run_sluice("run", "--home", other_home, "--data", taxi_sample, "--steps", 60, "--trainer", other)
    assert done.returncode == 0
    assert champion_framework(other_home) == other
    return {first: home, other: other_home}


def server_answers(home, frame):
    from serving.model_format.model import ServableModel

    names = ServableModel(home / "serving" / MODEL / "1").feature_names
    rows = [{c: (None if pd.isna(r[c]) else r[c].item() if hasattr(r[c], "item") else r[c]) for c in names}
            for _, r in frame.iterrows()]
    with ServerProcess(home / "serving") as server:
        server.wait_ready({MODEL: 1})
        status, body = server.post(f"/v1/models/{MODEL}:predict", {"instances": rows})
    assert status == 200, body
    return np.array(body["predictions"])


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_champion_predictions_equal_the_servers_and_are_recorded(homes, framework, taxi_sample, tmp_path):
    home = homes[framework]
    out = tmp_path / "preds.csv"
    result = run_sluice("predict", f"models:/{MODEL}@champion", "--home", home, "--data", taxi_sample,
                        "-o", out, "--keep", "trip_start_timestamp", "--keep", "company")
    assert result.returncode == 0
    assert "predict: wrote 2,000 rows" in result.stderr
    preds = pd.read_csv(out, dtype={"trip_start_timestamp": str, "company": str}, keep_default_na=False)
    source = pd.read_csv(taxi_sample, dtype={"trip_start_timestamp": str, "company": str}, keep_default_na=False)
    assert list(preds.columns) == ["trip_start_timestamp", "company", "prediction", "p_0", "p_1", "model", "version"]
    assert len(preds) == len(source)
    assert (preds["trip_start_timestamp"] == source["trip_start_timestamp"]).all()  # order and ids kept
    assert (preds["company"] == source["company"]).all()
    assert set(preds["model"]) == {MODEL} and set(preds["version"]) == {1}
    text = out.read_text()  # values as the input wrote them: 0, not "0"
    assert f'"{MODEL}"' not in text and ',"0",' not in text and ',"1",' not in text

    sample = pd.read_csv(taxi_sample).iloc[::97]  # rows from every part of the file
    expected = server_answers(home, sample)
    got = preds.iloc[sample.index][["p_0", "p_1"]].to_numpy()
    assert np.abs(got - expected).max() < 1e-5
    assert (preds.iloc[sample.index]["prediction"].astype(str).to_numpy()
            == np.where(expected[:, 1] > expected[:, 0], "1", "0")).all()

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"tags.`sluice.kind` = 'batch_prediction' and params.output = '{out}'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["sluice.model_name"] == MODEL and run.data.tags["sluice.model_version"] == "1"
    assert run.data.metrics["rows"] == 2000 and run.data.params["input"] == str(taxi_sample)
    import hashlib

    assert run.data.tags["sluice.input_sha256"] == hashlib.sha256(taxi_sample.read_bytes()).hexdigest()
    lineage = run_sluice("lineage", "--home", home)
    assert "batch predictions with this version" in lineage.stdout and str(out) in lineage.stdout


def test_formats_globs_and_model_versions(homes, taxi_sample, tmp_path):
    home = next(iter(homes.values()))
    lines = taxi_sample.read_text().splitlines(keepends=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("".join(lines[:501]))
    (parts / "b.csv").write_text(lines[0] + "".join(lines[501:801]))
    out = tmp_path / "preds.parquet"
    result = run_sluice("predict", f"{MODEL}/1", "--home", home, "--data", parts / "*.csv", "-o", out,
                        "--keep", "trip_start_timestamp")
    assert result.returncode == 0
    table = pq.read_table(out).to_pandas()
    expected_ids = [row["trip_start_timestamp"] for row in csv.DictReader(lines[:801])]
    assert table["trip_start_timestamp"].tolist() == expected_ids

    import tensorflow_data_validation as tfdv

    records = tmp_path / "preds.tfrecord"
    assert run_sluice("predict", "--home", home, "--data", parts / "a.csv", "-o", records).returncode == 0
    stats = tfdv.generate_statistics_from_tfrecord(str(records))
    assert stats.datasets[0].num_examples == 500
    assert {f.path.step[0] for f in stats.datasets[0].features} >= {"prediction", "p_1", "model", "version"}


def test_a_failed_job_leaves_an_earlier_output_as_it_was(homes, taxi_sample, tmp_path):
    home = next(iter(homes.values()))
    out = tmp_path / "preds.csv"
    out.write_text("an earlier output\n")
    broken = tmp_path / "broken.csv"
    shutil.copy(taxi_sample, broken)
    with open(broken, "a") as f:
        f.write("x" * 5 + "\n")  # a ragged last row
    result = run_sluice("predict", "--home", home, "--data", broken, "-o", out)
    assert result.returncode == 2 and "line 2002 has 1 fields" in result.stderr
    assert out.read_text() == "an earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.csv", "preds.csv"]
