"""A user's own models, end to end: a project folder outside sluice's checkout with
its config, schema, a preprocessing_fn that adds a feature cross, and trainer modules
of its own (the two examples, copied as a user starts, and one that breaks the
contract), next to the two built-in networks. One `sluice run` trains and judges all
five side by side: the broken one is recorded as failed (exit 4) and never blessed;
the best blessed one is pushed and served over REST; the report, MLflow,
`sluice models` and `sluice lineage` name the candidates; every candidate reads the
cross, and its weights depend on it."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from sluice_config import config as config_module
from tests.conftest import ROOT, run_sluice

pytestmark = pytest.mark.e2e
CROSS = "company_x_payment"
PREPROCESSING = f'''
import tensorflow as tf
import tensorflow_transform as tft

from trainers.builtin.default_preprocessing import fill_in_missing, preprocessing_fn as default_fn


def preprocessing_fn(inputs, custom_config):
    outputs = default_fn(inputs, custom_config)
    cross = tf.strings.join([fill_in_missing(inputs["company"]),
                             fill_in_missing(inputs["payment_type"])], separator="|")
    outputs["{CROSS}"] = tft.compute_and_apply_vocabulary(cross, num_oov_buckets=1,
                                                          vocab_filename="{CROSS}")
    return outputs
'''
BROKEN = '''
import torch


def build_model(features, hparams):
    return torch.nn.Linear(1, 3)  # forward takes the dict of inputs: it fails on it
'''
CANDIDATES = {
    "keras_mlp": {"framework": "keras"},
    "torch_mlp": {"framework": "torch"},
    "wide_deep": {"framework": "keras", "module": "my_models.wide_deep",
                  "hyperparameters": {"units": [32], "dropout": 0.1}},
    "tab_resnet": {"framework": "torch", "module": "my_models.tab_resnet", "hyperparameters": {"blocks": 2}},
    "broken": {"framework": "torch", "module": "my_models.broken"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, taxi_sample):
    folder = tmp_path_factory.mktemp("user") / "tips-project"
    (folder / "my_models").mkdir(parents=True)
    shutil.copy(config_module.load("taxi").schema, folder / "schema.pbtxt")
    shutil.copy(taxi_sample, folder / "trips.csv")
    (folder / "my_models" / "__init__.py").write_text("")
    for example in ("wide_deep", "tab_resnet"):
        shutil.copy(ROOT / "trainers" / "examples" / f"{example}.py", folder / "my_models")
    (folder / "my_models" / "broken.py").write_text(BROKEN)
    (folder / "features.py").write_text(PREPROCESSING)
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data="trips.csv", schema="schema.pbtxt", preprocessing_fn="features.preprocessing_fn",
               candidates=CANDIDATES)
    (folder / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def ran(project, tmp_path_factory):
    home = tmp_path_factory.mktemp("candidates") / "home"
    result = run_sluice("run", "--home", home, "--config", project / "config.yaml", "--steps", 60)
    return home, result


def decision_of(home: Path) -> dict:
    folder = max((home / "pipeline_root" / "push" / "pushed_model").iterdir(), key=lambda p: int(p.name))
    return json.loads((folder / "decision.json").read_text())


def test_every_candidate_is_trained_and_judged_and_the_best_blessed_one_is_pushed(ran):
    home, result = ran
    assert result.returncode == 4, result.stderr  # the broken module: the run says so
    assert re.search(r"error: candidate broken was not trained: my_models\.broken\.build_model "
                     r"\(candidate broken\): forward fails on a batch of", result.stderr), result.stderr
    for name in CANDIDATES:
        assert re.search(rf"✔ train_{name} ", result.stderr) and re.search(rf"✔ evaluate_{name} ", result.stderr)
    decision = decision_of(home)
    by_name = {c["candidate"]: c for c in decision["candidates"]}
    assert list(by_name) == list(CANDIDATES)  # the config's order
    assert not by_name["broken"]["blessed"]
    assert by_name["broken"]["reasons"][0].startswith("training failed: my_models.broken.build_model")
    blessed = {n: c["value"] for n, c in by_name.items() if c["blessed"]}
    assert len(blessed) >= 2, by_name
    winner = max(blessed, key=lambda n: (blessed[n], -list(CANDIDATES).index(n)))
    assert decision["pushed"] and decision["reason"].startswith(f"{winner} blessed with auc=")
    for loser in set(CANDIDATES) - {winner}:
        assert loser in decision["reason"]  # "chosen over ..." names every other candidate


def test_every_candidate_reads_the_cross_the_preprocessing_fn_adds(ran):
    import tensorflow as tf
    import torch

    from components.artifacts import tfx_layout
    from serving.model_format.layout import FeatureLayout

    home, _ = ran
    by_name = {c["candidate"]: c for c in decision_of(home)["candidates"]}
    for name in ("keras_mlp", "torch_mlp", "wide_deep", "tab_resnet"):
        model_dir = Path(tfx_layout.serving_model_dir(by_name[name]["model_uri"]))
        layout = FeatureLayout.load(model_dir)
        assert CROSS in layout.categorical, (name, layout.inputs)
        size = layout.categorical[CROSS]
        assert size > 3  # the joined company|payment_type values, and the OOV id
        if layout.framework == "keras":  # an embedding (or one-hot weights) sized by the cross
            shapes = [tuple(v.shape) for v in tf.saved_model.load(str(model_dir)).weights]
            assert any(size in s for s in shapes), (name, shapes)
        else:  # the served TorchScript model answers differently when only the cross changes
            scripted = torch.jit.load(str(model_dir / "model.pt"))
            rows = 16
            inputs = [torch.zeros(rows, dtype=torch.int64) if i.dtype == "int64" else torch.zeros(rows)
                      for i in layout.inputs]
            position = layout.input_names.index(CROSS)
            base = scripted(*inputs).detach().numpy()
            inputs[position] = torch.arange(rows) % size
            changed = scripted(*inputs).detach().numpy()
            assert np.abs(changed - base).max() > 1e-6, name


def test_mlflow_the_report_models_and_lineage_name_the_candidates(ran, project):
    home, _ = ran
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sluice-taxi")
    wide = client.search_runs([experiment.experiment_id], "attributes.run_name = 'train_wide_deep'")[0]
    assert wide.data.params["hparam.units"] == "[32]" and wide.data.params["module"] == "my_models.wide_deep"
    parent = client.search_runs([experiment.experiment_id], "attributes.run_name LIKE 'taxi-%'")[0]
    assert parent.data.tags["sluice.trainers"] == ",".join(CANDIDATES)
    assert "wide_deep.auc" in parent.data.metrics and "tab_resnet.auc" in parent.data.metrics
    report = next((home / "reports").glob("*/report.html")).read_text()
    for name in CANDIDATES:
        assert f"<td>{name}</td>" in report
    winner = decision_of(home)["reason"].split(" ")[0]
    models = run_sluice("models", "--home", home, "--config", project / "config.yaml")
    assert models.returncode == 0 and winner in models.stdout, models.stdout
    lineage = run_sluice("lineage", "--home", home, "--config", project / "config.yaml")
    assert re.search(rf"candidate\s+{winner} \(", lineage.stdout), lineage.stdout


def test_the_winner_serves_over_rest(ran, tmp_path):
    from serving.server.process import ServerProcess
    from tests.conftest import TAXI_CSV, raw_rows

    home, _ = ran
    with ServerProcess(home / "serving", log_path=tmp_path / "server.log") as server:
        server.wait_ready({"sluice-taxi": 1})
        status, info = server.get("/v1/models/sluice-taxi/metadata")
        assert status == 200
        names = json.loads((home / "serving" / "sluice-taxi" / "1" / "sluice.json").read_text())["raw_features"]
        rows = raw_rows(TAXI_CSV, 3, list(names))
        status, answer = server.post("/v1/models/sluice-taxi:predict",
                                     {"instances": [{n: rows[n][i] for n in rows} for i in range(3)]})
    assert status == 200, answer
    probabilities = np.array(answer["predictions"])
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
