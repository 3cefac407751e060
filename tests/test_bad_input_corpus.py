"""A corpus of bad data and bad configuration, run through the real CLI (in-process,
so 30 cases cost seconds) against a copy of a home that already serves a champion.

Each case asserts the exit code and the words of the message, that the serving
directory and the champion alias did not change, and that the MLflow and ML Metadata
stores still open and list the earlier runs. Valid CSV variants (CRLF, quoted fields
with quoted commas, a byte-order mark) must work instead."""
import csv
import json
import logging
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines import cli
from pipelines.lineage import mlmd
from sluice_config import config as config_module
from tests.test_preflight import BAD, rows_of, set_cell, write_rows
from tests.test_trainer_modules import TORCH_HEAD, TORCH_TAIL

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"


@pytest.fixture(scope="module", autouse=True)
def own_tracking_uri():
    """The in-process CLI calls mlflow.set_tracking_uri, which exports
    MLFLOW_TRACKING_URI; later tests' subprocesses must not inherit it."""
    import mlflow

    saved = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved
    mlflow.set_tracking_uri(saved or "")


@pytest.fixture(scope="module")
def home(first_run, tmp_path_factory):
    assert first_run[1].returncode == 0
    copy = tmp_path_factory.mktemp("corpus") / "home"
    shutil.copytree(first_run[0], copy)
    (copy / "last_run.json").unlink(missing_ok=True)
    return copy


def state(home):
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sluice-taxi")
    return {
        "serving": sorted(p.name for p in (home / "serving" / MODEL).iterdir()),
        "champion": client.get_model_version_by_alias(MODEL, "champion").version,
        "runs": {r.info.run_id for r in client.search_runs([experiment.experiment_id])},
        "executions": ({e.id for e in mlmd.open_store(home / "metadata.sqlite").get_executions()}
                       if (home / "metadata.sqlite").exists() else set()),
    }


def run_cli(caplog, *args) -> tuple[int, str]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        code = cli.main([str(a) for a in args])
    return code, caplog.text


def taxi_config(tmp_path, taxi_sample, **changes):
    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema=str(config_module.load("taxi").schema))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            raw.setdefault(section, {})[field] = value
        else:
            raw[section] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


CONFIGS = {
    "steps is a word": ({"training__steps": "ten"}, r"training.steps: expected int, got str 'ten'"),
    "buckets is a word": ({"features": {"fare": {"kind": "bucketized", "buckets": "many"}}},
                          r"features.fare.buckets: expected int"),
    "unknown feature kind": ({"features": {"fare": "numerical"}}, r"unknown kind 'numerical'.*Did you mean 'numeric'"),
    "missing column": ({"features": {"fare": "numeric", "tip_pct": "numeric"}},
                       r"column 'tip_pct'.*is missing"),
    "unknown key": ({"trainig": {}}, r"unknown key 'trainig'.*Did you mean 'training'"),
    "bad label rule": ({"label": {"name": "x", "derive": "tips >> fare"}}, r"cannot parse 'tips >> fare'"),
    "unknown task": ({"task": "regresion"}, r"unknown task 'regresion'. Did you mean 'regression'\?"),
    "regression on a derived label": ({"task": "regression", "gate": {}},
                                      r"label: a regression label is a numeric column"),
    "regression gate on a classifier": ({"gate__thresholds": {"rmse": 3.0}},
                                        r"gate.thresholds: 'rmse' is not a metric of a binary task"),
    "missing preprocessing_fn": ({"preprocessing_fn": "trainers.builtin.default_preprocessing.nope"},
                                 r"cannot import 'trainers.builtin.default_preprocessing.nope'"),
    "unknown gate metric": ({"gate__thresholds": {"f1": 0.5}}, r"gate.thresholds: unknown key 'f1'"),
    "drift bound for a non-feature": ({"drift__features": {"tips": 0.1}}, r"drift.features: unknown key 'tips'"),
    "unquoted yes/no classes": ({"label": {"name": "paid", "column": "payment_type",
                                           "classes": [False, True]}},
                                r"label.classes: expected .*YAML reads unquoted yes/no/on/off"),
    "text label without classes": ({"label": {"name": "paid", "column": "payment_type"}},
                                   r"'payment_type'\): the label holds text .*no label.classes"),
    "text in a column the config calls numeric": (
        {"features": {"fare": "numeric", "company": "numeric"}},
        r"column 'company' must be numeric, but line \d+ .*features.company is numeric"),
    "learning rate is a list": ({"training__learning_rate": [0.1]}, r"training.learning_rate: expected float"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data(case, home, taxi_sample, tmp_path, caplog):
    before = state(home)
    data = tmp_path / "data.csv"
    shutil.copy(taxi_sample, data)
    damage, message = BAD[case]
    damage(data)
    code, text = run_cli(caplog, "run", "--home", home, "--data", data, "--steps", 5)
    assert code == 2, text
    assert "error:" in text and str(data) in text
    assert re.search(message, text), text
    assert_unchanged(home, before)


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config(case, home, taxi_sample, tmp_path, caplog):
    before = state(home)
    changes, message = CONFIGS[case]
    code, text = run_cli(caplog, "run", "--home", home, "--config",
                         taxi_config(tmp_path, taxi_sample, **changes))
    assert code == 2, text
    assert re.search(message, text), text
    assert_unchanged(home, before)


def test_unknown_step(home, taxi_sample, caplog):
    before = state(home)
    code, text = run_cli(caplog, "run", "--home", home, "--data", taxi_sample, "--only", "Transfrom")
    assert code == 2 and "no step 'Transfrom'. Did you mean 'Transform'?" in text
    assert_unchanged(home, before)


def test_label_outside_the_classes(home, tmp_path, caplog):
    penguin = config_module.load("penguin")
    rows = rows_of(penguin.data)
    set_cell(rows, 8, "species", "Emperor")
    write_rows(tmp_path / "p.csv", rows)
    code, text = run_cli(caplog, "run", "--home", home, "--config", "penguin", "--data", tmp_path / "p.csv")
    assert code == 2 and "label value 'Emperor' is not one of the configured classes" in text


def test_column_of_a_new_type_stops_at_the_data_gate(home, taxi_sample, tmp_path, caplog):
    before = state(home)
    rows = rows_of(taxi_sample)
    for line in range(2, len(rows) + 1):
        set_cell(rows, line, "payment_type", str(line % 5))
    write_rows(tmp_path / "typed.csv", rows)
    code, text = run_cli(caplog, "run", "--home", home, "--data", tmp_path / "typed.csv")
    assert code == 3 and "payment_type" in text and "data anomal" in text
    assert_unchanged(home, before)


def test_a_binary_label_flipped_on_30_percent_of_rows_stops_at_the_data_gate(home, taxi_sample,
                                                                              tmp_path, caplog):
    """Every feature as before; the label (tips > 0.2 * fare) flipped on 30% of the rows."""
    import random

    before = state(home)
    rows = rows_of(taxi_sample)
    tips, fare = rows[0].index("tips"), rows[0].index("fare")
    chosen = random.Random(7).sample(range(1, len(rows)), k=int(0.3 * (len(rows) - 1)))
    for i in chosen:
        paid = float(rows[i][fare] or 0)
        big = float(rows[i][tips] or 0) > 0.2 * paid
        rows[i][tips] = "0.0" if big else str(round(0.3 * paid + 1, 2))
    write_rows(tmp_path / "flipped.csv", rows)
    code, text = run_cli(caplog, "run", "--home", home, "--data", tmp_path / "flipped.csv")
    assert code == 3, text
    assert "the label big_tipper drifted from the drift reference (pinned: the first champion's" in text
    assert "big_tipper (label)" in text and "infinity_norm" in text
    assert_unchanged(home, before)
    # Let through anyway (--accept-drift), a candidate trained on these labels is judged on
    # the pinned reference's eval rows too, where the champion's clean labels hold: it does
    # not replace the champion.
    code, text = run_cli(caplog, "run", "--home", home, "--data", tmp_path / "flipped.csv",
                         "--accept-drift", "--trainer", "keras", "--steps", 60)
    assert code == 0, text
    blessings = sorted((home / "pipeline_root" / "evaluate_keras" / "blessing").iterdir(),
                       key=lambda p: int(p.name))
    judged = json.loads((blessings[-1] / "evaluation.json").read_text())
    assert judged["reference_eval"]["version"] == 1, judged
    assert any("on version 1's eval rows (the pinned drift reference)" in r for r in judged["reasons"])
    after = state(home)
    assert (after["serving"], after["champion"]) == (before["serving"], before["champion"]), text


def test_a_regression_label_in_other_units_stops_at_the_data_gate(home, taxi_sample, tmp_path, caplog):
    """The Celsius case on the taxi rows: tips, the label of a regression, delivered in
    cents; no feature changed."""
    before = state(home)
    rows = rows_of(taxi_sample)
    tips = rows[0].index("tips")
    for row in rows[1:]:
        row[tips] = str(float(row[tips]) * 100) if row[tips] else row[tips]
    write_rows(tmp_path / "cents.csv", rows)
    config = taxi_config(tmp_path, tmp_path / "cents.csv", task="regression",
                         label={"name": "tip", "column": "tips"},
                         gate={"primary_metric": "rmse", "thresholds": {"rmse": 100.0}})
    code, text = run_cli(caplog, "run", "--home", home, "--config", config)
    assert code == 3, text
    assert "the label tip drifted from the drift reference" in text
    # half the tips are 0 (cash) in either unit: the other half moves past every decile
    assert re.search(r"tip \(label\)\s+jensen_shannon_divergence\s+0\.(1[1-9]|[2-9])", text), text
    assert_unchanged(home, before)


def test_quoted_crlf_bom_csv_is_read_like_the_plain_one(home, taxi_sample, tmp_path, caplog):
    rows = rows_of(taxi_sample)
    set_cell(rows, 3, "company", "Taxi, Inc.")
    exported = tmp_path / "exported.csv"
    with open(exported, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    code, text = run_cli(caplog, "run", "--home", home, "--data", exported, "--trainer", "keras",
                         "--steps", 20)
    assert code == 0, text
    assert "plain header line" in text
    assert "✔ check_anomalies" in text and "0 anomalies" in text
    assert "eval" in text and "2,000" in text


# Trainer modules that break the contract: before Beam starts (exit 2, the file and line
# named), or in training (the candidate is recorded as failed, never blessed: exit 4).
MODULES = {
    "module without build_model": ("def build(features, hparams):\n    pass\n", 2,
                                   r"defines neither build_model\(features, hparams\) nor run_fn"),
    "module with a syntax error": ("def build_model(features, hparams)\n    pass\n", 2,
                                   r"has a syntax error: expected ':' \(.*\.py, line 1, column \d+\)"),
    "module answering the wrong shape": (TORCH_HEAD + "        return self.linear(x)\n" + TORCH_TAIL, 4,
                                         r"forward returns shape \(8, 2\) for 8 rows; expected \(8, 1\)"),
    "module whose loss becomes NaN": (TORCH_HEAD + "        return self.linear(x)[:, :1] * float('nan')\n"
                                      + TORCH_TAIL, 4, r"the loss is nan by step \d+"),
    "module that cannot be exported": (
        TORCH_HEAD + "        eig = torch.linalg.eigvals(torch.diag_embed(x[:, :2].detach())).real\n"
                     "        return self.linear(x)[:, :1] + 0.0 * eig[:, :1]\n" + TORCH_TAIL, 4,
        r"cannot be exported \(TorchScript, ONNX\): UnsupportedOperatorError"),
}


def _drop_column(path, name):
    rows = rows_of(path)
    index = rows[0].index(name)
    write_rows(path, [r[:index] + r[index + 1:] for r in rows])


def _set(path, line, column, value):
    rows = rows_of(path)
    set_cell(rows, line, column, value)
    write_rows(path, rows)


# sluice predict: (target, damage to the copied data, message)
PREDICT = {
    "a column the model reads is missing": (
        None, lambda p: _drop_column(p, "trip_miles"),
        r"column 'trip_miles' is missing; model sluice-taxi version 1 reads it"),
    "text in a numeric column": (
        None, lambda p: _set(p, 40, "fare", "cheap"),
        r"column 'fare' must be numeric .*line 40 \(column 2\) holds 'cheap'"),
    "an empty file": (None, lambda p: p.write_text(""), r"data file .* is empty"),
    "a header and no rows": (None, lambda p: p.write_text(p.read_text().splitlines()[0] + "\n"),
                             r"a header but no rows to score"),
    "an unknown model": ("models:/sluice-taxo@champion", None,
                         r"no registered model named 'sluice-taxo' .*registered: sluice-taxi"),
    "an unknown alias": ("sluice-taxi@staging", None,
                         r"model sluice-taxi has no alias 'staging' \(versions: [\d, ]+; aliases: champion -> v\d+\)"),
    "an unknown version": ("sluice-taxi/7", None, r"model sluice-taxi has no version 7"),
    "a --keep column not in the file": (None, None, r"--keep column 'trip_id' is not in the file"),
}


@pytest.mark.parametrize("case", sorted(PREDICT))
def test_bad_predict_input(case, home, taxi_sample, tmp_path, caplog):
    before = state(home)
    target, damage, message = PREDICT[case]
    data = tmp_path / "data.csv"
    shutil.copy(taxi_sample, data)
    if damage:
        damage(data)
    out = tmp_path / "out" / "preds.csv"
    code, text = run_cli(caplog, "predict", *([target] if target else []), "--home", home,
                         "--data", data, "-o", out, *(["--keep", "trip_id"] if "keep" in case else []))
    assert code == 2, text
    assert re.search(message, text), text
    assert not out.parent.exists()  # no output, not even its folder
    assert_unchanged(home, before)


@pytest.mark.parametrize("case", sorted(MODULES))
def test_bad_trainer_module(case, home, taxi_sample, tmp_path, caplog):
    before = state(home)
    source, expected_code, message = MODULES[case]
    module = "corpus_" + re.sub(r"\W", "_", case)
    (tmp_path / f"{module}.py").write_text(source)
    config = taxi_config(tmp_path, taxi_sample, candidates={"m": {"framework": "torch", "module": module}})
    code, text = run_cli(caplog, "run", "--home", home, "--config", config, "--steps", 10)
    assert code == expected_code, text
    assert re.search(message, text), text
    assert module in text  # the module is named
    if expected_code == 4:
        assert "error: candidate m was not trained" in text and "not pushed: no candidate was blessed" in text
    assert_unchanged(home, before)


def assert_unchanged(home, before):
    after = state(home)
    assert after["serving"] == before["serving"] and after["champion"] == before["champion"]
    assert after["runs"] >= before["runs"] and after["executions"] >= before["executions"]


def test_slice_gate_names_the_failing_slices_and_keeps_the_champion(home, taxi_sample, tmp_path, caplog):
    before = state(home)
    config = taxi_config(tmp_path, taxi_sample, gate__slice_thresholds={"auc": 0.99},
                         gate__min_slice_examples=10)
    code, text = run_cli(caplog, "run", "--home", home, "--config", config, "--trainer", "keras",
                         "--steps", 20)
    assert code == 0, text
    assert "NOT blessed" in text and "not pushed" in text
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sluice-taxi")
    latest = client.search_runs([experiment.experiment_id], "attributes.run_name = 'evaluate_keras'",
                                order_by=["attributes.start_time DESC"])[0]
    blessing = latest.data.tags["sluice.output.blessing"]
    reasons = " ".join(json.loads((Path(blessing) / "evaluation.json").read_text())["reasons"])
    assert re.search(r"slice\(s\) below the slice thresholds FAILED: trip_start_hour=\d+: auc", reasons)
    assert_unchanged(home, before)


def test_blank_lines_and_repeated_rows_are_read(home, taxi_sample, tmp_path, caplog):
    """Must work: blank lines (pandas, R and Spark read them) and rows that repeat (a
    survey's coded answers): skipped and counted, reported with their share."""
    lines = taxi_sample.read_bytes().splitlines(keepends=True)
    survey = tmp_path / "survey.csv"
    survey.write_bytes(b"".join([lines[0], b"\n", *lines[1:], *lines[1:700], b"\n"]))
    code, text = run_cli(caplog, "run", "--home", home, "--data", survey, "--trainer", "keras",
                         "--steps", 20, "--accept-drift")
    assert code == 0, text
    assert "2 blank line(s) skipped" in text
    assert re.search(r"699 of 2,699 rows \(25\.9%\) repeat earlier rows", text), text
    assert "✔ check_anomalies" in text and "0 anomalies" in text
