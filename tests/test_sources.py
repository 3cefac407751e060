"""What a step reads from a user's folder reaches its cache key by content
(sluice_config.sources): the module, the local modules it imports, not the
installed packages; an in-place edit changes the digest, and the compiled pipeline's
step parameter with it."""
import sys

import pytest

from sluice_config import sources

pytestmark = pytest.mark.unit


@pytest.fixture
def project(tmp_path, monkeypatch):
    package = tmp_path / "my_features"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("SCALE = 2.0\n")
    (package / "prep.py").write_text(
        "import json\nimport numpy as np\nfrom . import helpers\nfrom my_features.helpers import SCALE\n\n"
        "def preprocessing_fn(inputs, custom_config):\n    return inputs\n")
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("my_features")]:
        del sys.modules[name]


def test_the_module_and_its_local_imports_are_keyed_not_installed_packages(project):
    found = sources.module_sources("my_features.prep")
    names = sorted(p.rsplit("/", 1)[-1] for p in found)
    assert names == ["__init__.py", "helpers.py", "prep.py"], found
    assert not any("site-packages" in p for p in found)


def test_an_in_place_edit_of_the_module_or_of_what_it_imports_changes_the_digest(project):
    before = sources.function_digest("my_features.prep.preprocessing_fn")
    assert sources.function_digest("my_features.prep.preprocessing_fn") == before  # stable
    helpers = project / "my_features" / "helpers.py"
    helpers.write_text("SCALE = 3.0\n")
    after_helper = sources.function_digest("my_features.prep.preprocessing_fn")
    assert after_helper != before
    (project / "unrelated.py").write_text("X = 2\n")  # not imported: no effect
    assert sources.function_digest("my_features.prep.preprocessing_fn") == after_helper


def test_the_compiled_steps_carry_the_contents_they_read(tmp_path):
    """The schema's and the modules' digests are parameters of exactly the steps that
    read them, where TFX's cache key includes them."""
    import shutil

    from pipelines.definition.dag import CONTENT_KEY, create_pipeline
    from pipelines.definition.home_layout import Paths
    from sluice_config import config as config_module

    taxi = config_module.load("taxi")
    schema = tmp_path / "schema.pbtxt"
    shutil.copy(taxi.schema, schema)
    config = taxi.replace(schema=schema)

    def parameters():
        pipeline = create_pipeline(config, Paths(tmp_path / "home"), ("keras", "torch"),
                                   with_metadata=False)
        return {c.id: c.exec_properties.get(CONTENT_KEY) for c in pipeline.components}

    before = parameters()
    assert set(k for k, v in before.items() if v) == {
        "ImportSchemaGen", "Transform", "train_keras", "train_torch"}
    schema.write_text(schema.read_text() + "\n# edited in place\n")
    after = parameters()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"ImportSchemaGen"}
