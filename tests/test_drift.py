"""The drift measure on real TFDV statistics: it reads TFDV's drift proto, so a change
in TFDV's API or proto fails here, in the fast tier, not as a silently open gate."""
import json
from pathlib import Path

import pandas as pd
import pytest

from components import drift
from pipelines.definition import config as config_module
from tests.conftest import TAXI_CSV

pytestmark = pytest.mark.component


def statistics_dir(tmp_path: Path, frame: pd.DataFrame, name: str) -> str:
    import tensorflow_data_validation as tfdv

    csv = tmp_path / f"{name}.csv"
    frame.to_csv(csv, index=False)
    split = tmp_path / name / "Split-train"
    split.mkdir(parents=True)
    stats = tfdv.generate_statistics_from_csv(str(csv))
    (split / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    return str(split.parent)


@pytest.fixture(scope="module")
def taxi():
    return config_module.load("taxi")


def test_scaled_column_drifts_and_unchanged_data_does_not(taxi, tmp_path):
    frame = pd.read_csv(TAXI_CSV).sample(3000, random_state=0)
    reference = statistics_dir(tmp_path, frame.iloc[:1500], "reference")
    same = statistics_dir(tmp_path, frame.iloc[1500:], "same")
    scaled = frame.iloc[1500:].copy()
    scaled["trip_miles"] *= 1000
    scaled["payment_type"] = "Bitcoin"
    shifted = statistics_dir(tmp_path, scaled, "shifted")
    bounds = taxi.drift_bounds()

    rows = drift.measure(same, reference, str(taxi.schema), bounds)
    assert {r["feature"] for r in rows} == set(taxi.feature_names)
    assert not [r for r in rows if r["drifted"]], json.dumps(rows, indent=1)

    rows = drift.measure(shifted, reference, str(taxi.schema), bounds)
    drifted = {r["feature"]: r for r in rows if r["drifted"]}
    assert set(drifted) == {"trip_miles", "payment_type"}
    assert drifted["trip_miles"]["measure"] == "jensen_shannon_divergence"
    assert drifted["payment_type"]["measure"] == "infinity_norm"
    assert drifted["payment_type"]["value"] == pytest.approx(1.0, abs=0.01)
    error = drift.DataDriftError(rows, 3)
    assert "2 feature(s) drifted" in str(error) and "version 3" in str(error)
    assert "trip_miles" in str(error) and "--accept-drift" in str(error)
