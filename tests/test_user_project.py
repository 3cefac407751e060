"""A user's project in a folder of its own (outside sluice's checkout): a config, a
curated schema, a preprocessing_fn module that imports a helper beside it. Edited in
place between runs, as users edit them: each edit re-runs exactly the steps that read
it, the run uses the new contents, the record names the new digests; `--force`
re-executes a step whose inputs did not change."""
import hashlib
import re
import shutil

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sluice_config import config as config_module
from tests.conftest import run_sluice

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory, taxi_sample):
    folder = tmp_path_factory.mktemp("user") / "weather-project"
    (folder / "my_features").mkdir(parents=True)
    (folder / "schemas").mkdir()
    shutil.copy(config_module.load("taxi").schema, folder / "schemas" / "schema.pbtxt")
    shutil.copy(taxi_sample, folder / "trips.csv")
    (folder / "my_features" / "__init__.py").write_text("")
    (folder / "my_features" / "helpers.py").write_text("LABEL_OFFSET = 0\n")
    (folder / "my_features" / "prep.py").write_text(
        "from trainers.builtin.default_preprocessing import preprocessing_fn as default_fn\n"
        "from my_features.helpers import LABEL_OFFSET\n\n\n"
        "def preprocessing_fn(inputs, custom_config):\n"
        "    outputs = default_fn(inputs, custom_config)\n"
        "    outputs['label_xf'] = outputs['label_xf'] + LABEL_OFFSET\n"
        "    return outputs\n")
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data="trips.csv", schema="schemas/schema.pbtxt",
               preprocessing_fn="my_features.prep.preprocessing_fn")
    (folder / "config.yaml").write_text(yaml.safe_dump(raw))
    return folder


def states(stderr: str) -> dict[str, str]:
    """step -> 'cached' or 'ran', from the step log."""
    found = {}
    for step, rest in re.findall(r"✔ (\w+)\s+(.*)", stderr):
        found[step] = "cached" if rest.startswith("cached") else "ran"
    return found


def last_parent_tags(home):
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sluice-taxi")
    runs = client.search_runs([experiment.experiment_id], "attributes.run_name LIKE 'taxi-%'",
                              order_by=["attributes.start_time DESC"])
    return runs[0].data.tags


def test_in_place_edits_rerun_exactly_the_steps_that_read_them(project, tmp_path):
    home = tmp_path / "home"
    sluice = ("run", "--home", home, "--config", project / "config.yaml", "--trainer", "keras",
              "--steps", 20)
    first = run_sluice(*sluice)
    assert first.returncode == 0, first.stderr
    first_tags = last_parent_tags(home)
    schema = project / "schemas" / "schema.pbtxt"
    assert first_tags["sluice.content_sha256.ImportSchemaGen"] == \
        hashlib.sha256(schema.read_bytes()).hexdigest()

    # The helper the module imports, edited in place: Transform and what follows re-run,
    # with the new code (a label offset of 5 makes every label a class the model lacks:
    # accuracy 0, not blessed).
    (project / "my_features" / "helpers.py").write_text("LABEL_OFFSET = 5\n")
    edited = run_sluice(*sluice)
    ran = states(edited.stderr)
    assert ran["ImportSchemaGen"] == ran["CsvExampleGen"] == ran["StatisticsGen"] == "cached"
    assert ran["Transform"] == "ran", edited.stderr
    assert edited.returncode == 0, edited.stderr
    assert re.search(r"evaluate_keras .*accuracy 0\.0000 .*NOT blessed", edited.stderr), edited.stderr
    tags = last_parent_tags(home)
    assert tags["sluice.content_sha256.Transform"] != first_tags["sluice.content_sha256.Transform"]
    assert tags["sluice.content_sha256.ImportSchemaGen"] == \
        first_tags["sluice.content_sha256.ImportSchemaGen"]
    (project / "my_features" / "helpers.py").write_text("LABEL_OFFSET = 0\n")

    # The curated schema, edited in place (fare must now be >= 1000): ImportSchemaGen
    # re-runs and the data gate enforces the new constraint.
    text = schema.read_text()
    schema.write_text(text.replace('name: "fare"\n  type: FLOAT\n  float_domain {\n    min: 0.0',
                                   'name: "fare"\n  type: FLOAT\n  float_domain {\n    min: 1000.0'))
    assert schema.read_text() != text
    gated = run_sluice(*sluice)
    assert gated.returncode == 3, gated.stderr
    assert states(gated.stderr)["ImportSchemaGen"] == "ran"
    assert re.search(r"fare: Out-of-range values .*0<1000", gated.stderr), gated.stderr
    assert last_parent_tags(home)["sluice.content_sha256.ImportSchemaGen"] == \
        hashlib.sha256(schema.read_bytes()).hexdigest()
    schema.write_text(text)

    # --force re-executes a step even when nothing it reads changed.
    again = run_sluice("run", "--home", home, "--config", project / "config.yaml",
                       "--only", "ImportSchemaGen")
    assert states(again.stderr)["ImportSchemaGen"] == "cached"
    forced = run_sluice("run", "--home", home, "--config", project / "config.yaml",
                        "--only", "ImportSchemaGen", "--force")
    assert forced.returncode == 0, forced.stderr
    assert states(forced.stderr)["ImportSchemaGen"] == "ran"
