"""A regression task end to end (the bundled taxi_fare config: the fare in dollars):
both built-in candidates train on the numeric label, the gate bounds rmse and r2 (lower
rmse is better, in the thresholds and against the champion), the winner is pushed, and
the model server answers :regress and :predict in TF Serving's formats with the same
values the MLflow pyfunc returns; :classify is refused."""
import json
import re

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TAXI_CSV, head_csv, raw_rows, run_sluice

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi-fare"


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    home = tmp_path_factory.mktemp("regression") / "home"
    data = head_csv(TAXI_CSV, home.parent / "trips.csv", 3000)
    result = run_sluice("run", "--config", "taxi_fare", "--home", home, "--data", data, "--steps", 300)
    return home, result


def test_the_gate_bounds_rmse_and_r2_and_pushes_the_better_regressor(ran):
    home, result = ran
    assert result.returncode == 0, result.stderr
    for name in ("keras", "torch"):
        assert re.search(rf"✔ evaluate_{name} .*rmse \d+\.\d+, r2 0\.\d+ on [\d,]+ rows vs no champion: BLESSED",
                         result.stderr), result.stderr
    found = re.search(r"(keras|torch) blessed with rmse=(\d+\.\d+), chosen over (keras|torch) rmse=(\d+\.\d+)",
                      result.stderr)
    assert found and float(found[2]) <= float(found[4])  # the lower rmse wins
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sluice-taxi_fare")
    evaluate = client.search_runs([experiment.experiment_id], "attributes.run_name = 'evaluate_keras'")[0]
    reasons = json.loads(open(f"{evaluate.data.tags['sluice.output.blessing']}/evaluation.json").read())["reasons"]
    assert re.match(r"r2 0\.\d+ >= 0\.3 ok", reasons[0]) and re.match(r"rmse \d+\.\d+ <= 8\.0 ok", reasons[1])
    report = next((home / "reports").glob("*/report.html")).read_text()
    assert "<th>rmse</th><th>mae</th><th>R²</th>" in report


def test_the_server_answers_regress_and_predict_like_the_pyfunc(ran, tmp_path):
    import mlflow.pyfunc
    import pandas as pd

    from serving.server.process import ServerProcess

    home, _ = ran
    names = json.loads((home / "serving" / MODEL / "1" / "sluice.json").read_text())["raw_features"]
    rows = raw_rows(TAXI_CSV, 4, list(names))
    examples = [{n: rows[n][i] for n in rows} for i in range(4)]
    with ServerProcess(home / "serving", log_path=tmp_path / "server.log") as server:
        server.wait_ready({MODEL: 1})
        status, regressed = server.post(f"/v1/models/{MODEL}:regress", {"examples": examples})
        assert status == 200, regressed
        status, predicted = server.post(f"/v1/models/{MODEL}:predict", {"instances": examples})
        assert status == 200, predicted
        status, refused = server.post(f"/v1/models/{MODEL}:classify", {"examples": examples})
        assert status == 400 and "regression model: use :regress or :predict" in refused["error"]
        status, metadata = server.get(f"/v1/models/{MODEL}/versions/1/metadata")
    values = np.array(regressed["result"])
    assert values.shape == (4,) and np.all(np.isfinite(values)) and np.all(values > 0)
    assert np.allclose(np.array(predicted["predictions"])[:, 0], values, atol=1e-5)
    outputs = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["outputs"]
    assert list(outputs) == ["value"]
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    version = client.get_model_version_by_alias(MODEL, "champion")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    frame = pd.DataFrame({n: [e.get(n) for e in examples] for n in names})
    answer = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version.version}").predict(frame)
    assert list(answer.columns) == ["value"]
    assert np.allclose(answer["value"].to_numpy(), values, atol=1e-5)
