"""Values outside their feature's domain (serving.server.input_domains): found per
feature and row, described the way a user reads the schema."""
import pytest

from serving.model_format.layout import FeatureLayout, ModelInput
from serving.server import input_domains

pytestmark = pytest.mark.unit

LAYOUT = FeatureLayout(
    "keras", "regression", (), (ModelInput("x", "float32"),),
    {"idp": "number", "visits": "number", "disea": "number", "plan": "string", "free": "number"},
    domains={"idp": {"integer": True, "min": 0, "max": 1, "source": "identity ids 0..1"},
             "visits": {"integer": True},
             "disea": {"min": 0.0, "max": 58.6, "source": "the schema's float_domain"},
             "plan": {"values": ["basic", "plus"], "source": "the schema's string domain"}})


def test_values_outside_are_found_by_feature_and_row():
    columns = {"idp": [0, 7, -1, 1, None], "visits": [2, 0.5, 3.0, float("nan"), 1],
               "disea": [1e9, 3.0, float("nan"), 0.0, 58.6], "plan": ["basic", "gold", "", None, "plus"],
               "free": [1e12, -5, 0, 1, 2]}
    found = input_domains.outside(LAYOUT, columns)
    assert found == {"idp": [(1, 7), (2, -1)], "visits": [(1, 0.5)], "disea": [(0, 1e9)],
                     "plan": [(1, "gold")]}
    assert input_domains.outside(LAYOUT, {"idp": [0, 1], "visits": [1, float("inf")]}) == \
        {"visits": [(1, float("inf"))]}


def test_the_refusal_names_feature_value_and_domain():
    found = input_domains.outside(LAYOUT, {"idp": [0, 7.0, 9], "disea": [1.0, 2.0, 1e9]})
    assert input_domains.refusal(LAYOUT, found) == (
        "row 1: 'idp' = 7 is outside its domain, identity ids 0..1 "
        "(3 value(s) outside their domains in this request)")
    assert input_domains.describe(LAYOUT.domains["disea"]) == \
        "numbers 0.0..58.6 (the schema's float_domain)"
    assert input_domains.describe(LAYOUT.domains["visits"]) == "integers"
    assert input_domains.describe(LAYOUT.domains["plan"]) == \
        "one of 'basic', 'plus' (the schema's string domain)"
