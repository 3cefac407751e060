"""notebooks/explore_run.ipynb runs headless (nbclient, a real kernel) against a small
run and fails on any cell error; it is committed without outputs."""

import nbformat
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
NOTEBOOK = ROOT / "notebooks" / "explore_run.ipynb"


def test_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in notebook.cells if c.cell_type == "code")


def test_explore_run_executes_headless(first_run, monkeypatch):
    from nbclient import NotebookClient

    home, result = first_run
    assert result.returncode == 0
    monkeypatch.setenv("SLUICE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # loss curves, scatter
    html = " ".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "facets" in html  # TFDV's own statistics view
    text = " ".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "keras: BLESSED" in text and "(champion)" in text
    last = [o for o in notebook.cells[-1].outputs if o.output_type == "execute_result"]
    assert last and "text/plain" in last[0]["data"]  # the champion's predictions on raw rows
