"""The MLflow UI as a user sees it: `sluice ui` on a small run's home, driven by headless
Chromium. Checks what a person looks for (the pipeline run and its step runs, the
dataset's digest, the registered model with its champion alias and description, the run
report rendered in the artifact view) and saves a screenshot of each page."""
import json
import subprocess
import time

import mlflow
import pytest

from serving.server.process import free_port, wait_until_up
from tests.conftest import ROOT, SLUICE, sluice_env

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"
STEPS = ["CsvExampleGen", "Transform", "train_keras", "train_torch", "evaluate_keras", "push"]


@pytest.fixture
def ui(first_run):
    """`sluice ui` on the shared run's home (-> the link it prints)."""
    home, result = first_run
    assert result.returncode == 0
    port = free_port()
    process = subprocess.Popen([str(SLUICE), "ui", "--home", str(home), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=sluice_env(), cwd=ROOT)
    try:
        link = process.stdout.readline().strip().removeprefix("open ")
        wait_until_up(f"http://127.0.0.1:{port}/health", process)
        yield link
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_mlflow_ui_shows_the_run_model_and_report(first_run, ui, browser, tmp_path):
    home, _ = first_run
    client = mlflow.MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    parent = client.get_run(champion.tags["sluice.run_id"])  # other tests add runs to this home
    dataset = parent.inputs.dataset_inputs[0].dataset
    base = ui.split("#")[0]
    assert "workflowType=machine_learning" in ui and "/runs" in ui

    # the link lands on the runs list (not MLflow 3's GenAI overview), with the dataset digest
    browser.goto(ui)
    browser.wait_for_text(parent.info.run_name, f"{dataset.name} ({dataset.digest})")
    browser.click(f"[...[...document.querySelectorAll('[role=row]')]"
                  f".find(r => r.innerText.includes({json.dumps(parent.info.run_name)}))"
                  ".querySelectorAll('button')].find(b => !b.innerText.trim())",
                  "expander of the pipeline run")
    browser.wait_for_text(*STEPS)
    browser.screenshot(tmp_path / "runs.png")

    browser.goto(f"{base}#/models/{MODEL}/versions/{champion.version}?workflowType=machine_learning")
    text = browser.wait_for_text(f"Version {champion.version}", "Aliases", "champion")
    assert champion.description and champion.description in text
    assert "Report:" in champion.description
    browser.screenshot(tmp_path / "model_version.png")

    browser.goto(f"{base}#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}"
                 "/artifacts/report.html?workflowType=machine_learning")
    browser.wait_for("document.querySelector('iframe')", "the artifact preview")
    browser.wait_for_text("report.html")
    deadline = time.monotonic() + 60
    while not any("side by side" in (t or "") for t in browser.in_frames("document.body.innerText")):
        assert time.monotonic() < deadline, "the report never rendered in the artifact view"
        time.sleep(0.5)
    report = next(t for t in browser.in_frames("document.body.innerText") if "side by side" in t)
    assert parent.info.run_name in report and "keras" in report and "torch" in report
    images = max(browser.in_frames("[...document.images].filter(i => i.naturalWidth > 0).length"))
    assert images >= 3, f"only {images} plots rendered in the report"
    browser.screenshot(tmp_path / "report.png")
    print(f"screenshots in {tmp_path}")
