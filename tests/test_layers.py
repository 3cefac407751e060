"""The architecture, beyond what import-linter sees: serving never launches the
pipeline's CLI either (it used to start `python -m pipelines.cli serve`)."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.unit
def test_serving_neither_imports_nor_launches_the_pipeline():
    mentions = [f"{path.relative_to(ROOT)}:{number}"
                for path in sorted((ROOT / "serving").rglob("*.py"))
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if "pipelines" in line.split("#")[0]]
    assert not mentions, f"serving/ refers to the pipeline: {mentions}"


@pytest.mark.component
def test_the_unchanged_rerun_path_imports_neither_tensorflow_nor_tfx_nor_beam():
    """An unchanged `sluice run` is answered from the record in ~2.5 s; importing TFX or
    TensorFlow on that path (e.g. a component module at the top of a lineage module)
    costs ~3 s more (bench/ab_commits.sh measured 2.2 -> 5.4 s once), and Beam ~1.4 s
    (the job-endpoint check, when no endpoint is named: 4.3 -> 2.6 s)."""
    modules = ["pipelines.cli", "pipelines.runners.local", "pipelines.run.up_to_date",
               "pipelines.lineage.mlflow_record", "pipelines.lineage.mlflow_store"]
    probe = "; ".join(f"import {m}" for m in modules) + (
        "; from pipelines.run import portable_cluster; portable_cluster.check(())"
        "; import sys; print(sorted(m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", f"heavy imports on the rerun path: {result.stdout}"
