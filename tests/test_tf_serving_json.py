"""Request parsing: values pass through unchanged on the fast path, and every bad value
is reported with where it is (row or column and index) and what was expected."""
import pytest

from serving.model_format.layout import FeatureLayout, ModelInput
from serving.server import tf_serving_json as api

pytestmark = pytest.mark.unit

LAYOUT = FeatureLayout(framework="keras", task="binary", classes=("0", "1"),
                       inputs=(ModelInput("fare_xf", "float32"),),
                       raw_features={"fare": "number", "company": "string", "miles": "number"},
                       required=("fare",))


def test_rows_become_columns_with_missing_values_and_one_element_lists():
    rows = [{"fare": 1, "company": "A", "miles": None},
            {"fare": 2.5, "company": [], "miles": [3.0]}]
    columns, columnar = api.parse_predict(LAYOUT, {"instances": rows})
    assert not columnar
    assert columns == {"fare": [1, 2.5], "company": ["A", None], "miles": [None, 3.0]}


def test_columnar_inputs_pass_through():
    inputs = {"fare": [1.0, 2.0], "company": ["A", "B"], "miles": [None, 4]}
    columns, columnar = api.parse_predict(LAYOUT, {"inputs": inputs})
    assert columnar and columns == inputs


@pytest.mark.parametrize("body, message", [
    ({"instances": [{"fare": 1, "company": "A", "miles": 1},
                    {"fare": "cheap", "company": "A", "miles": 1}]},
     "instances[1]: 'fare' must be a number, got str 'cheap'"),
    ({"instances": [{"fare": None, "company": "A", "miles": 1}]},
     "instances[0]: 'fare' is required (the schema says it is always present), got null"),
    # gRPC's missing value (a NaN in a float tensor) is no value for a required input either
    ({"inputs": {"fare": [1.0, float("nan")], "company": ["A", "B"], "miles": [1, float("nan")]}},
     "inputs.fare[1]: 'fare' is required (the schema says it is always present), got NaN"),
    ({"instances": [{"fare": 1, "company": 7, "miles": True}]},
     "instances[0]: 'company' must be a string, got int 7"),
    ({"inputs": {"fare": [1, 2, 3], "company": ["A", "B", "C"], "miles": [1, 2, [1, 2]]}},
     "inputs.miles[2]: 'miles' takes one value per example, got 2"),
    ({"inputs": {"fare": [1, 2], "company": ["A", "B"], "miles": [1, False]}},
     "inputs.miles[1]: 'miles' must be a number, got bool False"),
    ({"instances": [{"fare": 1, "company": "A"}]}, "instances[0]: missing input(s) miles"),
    # as many inputs as the model takes, one misspelled: found by the lookup, not by the size
    ({"instances": [{"fare": 1, "company": "A", "miles": 1}, {"fare": 1, "company": "A", "mile": 1}]},
     "instances[1]: missing input(s) miles"),
    ({"instances": [{"fare": 1, "company": "A", "miles": 1}, [1, "A", 1]]},
     "instances[1] must be an object of named inputs, got list"),
])
def test_bad_values_are_named_with_their_place(body, message):
    with pytest.raises(api.RequestError) as err:
        api.parse_predict(LAYOUT, body)
    assert str(err.value).startswith(message), str(err.value)
    assert err.value.status == 400
