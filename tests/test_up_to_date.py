"""The up-to-date check: any change to what a step reads makes the next run real."""
import dataclasses

import pytest

from pipelines.definition.home_layout import Paths
from pipelines.lineage.mlflow_record import file_digest
from pipelines.run.up_to_date import fingerprint
from serving.model_format import push_target
from sluice_config import config as config_module
from tests.conftest import TAXI_CSV, head_csv

pytestmark = pytest.mark.unit


def test_fingerprint_changes_with_every_input(tmp_path):
    data = head_csv(TAXI_CSV, tmp_path / "taxi.csv", 50)
    config = dataclasses.replace(config_module.load("taxi"), data=data)
    paths = Paths(tmp_path / "home")
    base = fingerprint(config, paths, ("keras",), ())
    assert fingerprint(config, paths, ("keras",), ()) == base
    assert fingerprint(config, paths, ("keras",), (), file_digest(data)) == base  # a known digest

    steps = dataclasses.replace(config, training=dataclasses.replace(config.training, steps=7))
    assert fingerprint(steps, paths, ("keras",), ()) != base
    assert fingerprint(config, paths, ("keras", "torch"), ()) != base
    assert fingerprint(config, paths, ("keras",), ("--direct_num_workers=2",)) != base

    data.write_text(data.read_text().replace("Credit Card", "Cash", 1))
    changed_data = fingerprint(config, paths, ("keras",), ())
    assert changed_data != base

    model = tmp_path / "model"
    model.mkdir()
    push_target.push(model, paths.serving_dir, config.model_name, {"model_uri": "m"})
    assert fingerprint(config, paths, ("keras",), ()) != changed_data  # the champion changed


@pytest.mark.unit
def test_every_package_with_code_is_in_the_fingerprint():
    """A package the fingerprint misses lets a change there be skipped as "nothing
    changed" (sluice_config/ was missed once): every folder at the top of the project
    with an __init__.py must be one of the packages pyproject.toml installs, and the
    import contracts must cover the same packages."""
    import tomli

    from pipelines.definition.home_layout import PROJECT_ROOT
    from sluice_config.packages import code_packages

    on_disk = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk <= set(code_packages(PROJECT_ROOT)), on_disk - set(code_packages(PROJECT_ROOT))
    assert {"sluice_config", "pipelines", "components", "trainers", "serving"} <= set(code_packages(PROJECT_ROOT))
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
        linted = tomli.load(handle)["tool"]["importlinter"]["root_packages"]
    assert sorted(linted) == sorted(code_packages(PROJECT_ROOT))
