"""`sluice schema infer`: a fresh schema from the data, diffed against the curated one."""
import pandas as pd
import pytest

from tests.conftest import run_sluice

pytestmark = pytest.mark.component


def test_infer_writes_a_schema_and_reports_what_changed(tmp_path, taxi_sample):
    frame = pd.read_csv(taxi_sample)
    frame["payment_type"] = frame["payment_type"].where(frame.index % 4 != 0, "Bitcoin")
    frame["surge"] = 1.5
    changed = tmp_path / "changed.csv"
    frame.to_csv(changed, index=False)
    out = tmp_path / "schema.pbtxt"

    result = run_sluice("schema", "infer", "--data", changed, "-o", out)
    assert result.returncode == 0
    assert 'name: "surge"' in out.read_text()
    assert "+ surge: new column (FLOAT)" in result.stdout
    assert "~ payment_type: new values ['Bitcoin']" in result.stdout

    unchanged = run_sluice("schema", "infer", "--data", taxi_sample)
    assert unchanged.returncode == 0 and "surge" not in unchanged.stdout


def test_inferred_schema_has_value_ranges_where_the_data_supports_them(taxi_sample):
    from components.infer_schema import infer_schema

    schema = infer_schema(taxi_sample, {"trip_start_hour": 24})
    features = {f.name: f for f in schema.feature}
    hour = features["trip_start_hour"].int_domain
    assert (hour.min, hour.max) == (0, 23)
    assert features["trip_miles"].float_domain.min == 0  # never negative in the data
    assert not features["trip_miles"].float_domain.HasField("max")
    assert not features["pickup_longitude"].float_domain.HasField("min")  # negative values
