"""The measures and inputs of `sluice monitor` that need no model: the prediction-shift
divergence, --since, and the SERVING environment of the schema."""
import numpy as np
import pytest

from components.executors.preflight import DataError
from components.gates.serving_skew import binned_jsd, score_of, serving_schema
from pipelines.jobs.served_rows import since_epoch
from sluice_config import config as config_module

pytestmark = pytest.mark.unit


def test_prediction_shift_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = rng.beta(2, 5, 5000)
    assert binned_jsd(reference, rng.beta(2, 5, 2000)) < 0.02
    assert binned_jsd(reference, rng.beta(5, 2, 2000)) > 0.3
    assert binned_jsd(np.zeros(10), np.zeros(5)) == 0.0


def test_scores_are_the_positive_class_the_top_class_or_the_value():
    assert score_of(np.array([[0.2, 0.8], [0.9, 0.1]])).tolist() == [0.8, 0.1]
    assert score_of(np.array([[0.2, 0.5, 0.3]])).tolist() == [0.5]
    assert score_of(np.array([[3.5], [1.0]])).tolist() == [3.5, 1.0]


def test_since_takes_durations_and_iso_times():
    assert since_epoch("90m", now=10_000.0) == 10_000.0 - 5400
    assert since_epoch("2d", now=200_000.0) == 200_000.0 - 172_800
    assert since_epoch("1970-01-02T00:00") == 86_400
    assert since_epoch(None) is None
    with pytest.raises(DataError, match="--since 'yesterday'"):
        since_epoch("yesterday")


def test_serving_schema_expects_only_what_the_model_reads():
    taxi = config_module.load("taxi")
    schema = serving_schema(str(taxi.schema), ["trip_miles", "fare"])
    by_name = {f.name: list(f.not_in_environment) for f in schema.feature}
    assert by_name["trip_miles"] == [] and by_name["fare"] == []
    assert by_name["tips"] == ["SERVING"]
    assert list(schema.default_environment) == ["TRAINING", "SERVING"]


def test_served_rows_are_typed_filtered_and_keep_logged_answers(tmp_path):
    from pipelines.jobs.served_rows import load

    folder = tmp_path / "log" / "taxi"
    folder.mkdir(parents=True)
    (folder / "requests-1.csv").write_text(
        "miles,company,prediction,p_0,p_1,model,version,time\n"
        "1.5,A,1,0.2,0.8,taxi,1,2000-01-01T00:00:00.000Z\n"
        ",,0,0.7,0.3,taxi,1,2100-01-01T00:00:00.000Z\n")
    raw = {"miles": "number", "company": "string"}
    frame, answers, files = load(str(tmp_path / "log"), "taxi", raw, None, ["p_0", "p_1"])
    assert files == [folder / "requests-1.csv"]
    assert frame["miles"].tolist()[0] == 1.5 and np.isnan(frame["miles"].tolist()[1])
    assert frame["company"].tolist()[0] == "A" and frame["company"].isna().tolist()[1]
    assert answers.tolist() == [[0.2, 0.8], [0.7, 0.3]]
    recent, _, _ = load(str(tmp_path / "log"), "taxi", raw, "2050-01-01T00:00", ["p_0", "p_1"])
    assert len(recent) == 1
    _, none, _ = load(str(tmp_path / "log"), "taxi", raw, None, ["p_no", "p_yes"])
    assert none is None  # other classes: the model scores the rows itself
    with pytest.raises(DataError, match="lack the model's column"):
        load(str(tmp_path / "log"), "taxi", {**raw, "fare": "number"}, None)
