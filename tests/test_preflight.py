import pytest

from pipelines import config as config_module
from pipelines.preflight import DataError, check_data
from tests.conftest import TAXI_CSV, head_csv


@pytest.fixture
def taxi():
    return config_module.load("taxi")


def test_good_sample_passes(taxi, tmp_path):
    assert check_data(taxi.replace(data=head_csv(TAXI_CSV, tmp_path / "d.csv", 50))) == 50


def test_missing_file(taxi, tmp_path):
    with pytest.raises(DataError, match=r"data file .*nope.csv not found"):
        check_data(taxi.replace(data=tmp_path / "nope.csv"))


def test_empty_file(taxi, tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        check_data(taxi.replace(data=tmp_path / "e.csv"))


def test_misspelled_column_suggests_the_match(taxi, tmp_path):
    path = head_csv(TAXI_CSV, tmp_path / "d.csv", 20)
    path.write_text(path.read_text().replace("trip_miles", "trip_mile", 1))
    with pytest.raises(DataError, match="column 'trip_miles'.*missing.*Did you mean 'trip_mile'"):
        check_data(taxi.replace(data=path))


def test_text_in_numeric_column_names_row_and_value(taxi, tmp_path):
    path = head_csv(TAXI_CSV, tmp_path / "d.csv", 20)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[5].split(",")
    row[header.index("fare")] = "twelve"
    lines[5] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'fare' must be numeric.*row 6.*'twelve'"):
        check_data(taxi.replace(data=path))
