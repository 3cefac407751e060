"""The architecture, beyond what import-linter sees: serving never launches the
pipeline's CLI either (it used to start `python -m pipelines.cli serve`)."""
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def test_serving_neither_imports_nor_launches_the_pipeline():
    mentions = [f"{path.relative_to(ROOT)}:{number}"
                for path in sorted((ROOT / "serving").rglob("*.py"))
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if "pipelines" in line.split("#")[0]]
    assert not mentions, f"serving/ refers to the pipeline: {mentions}"
