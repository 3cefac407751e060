"""End-to-end: promotion means "better beyond the noise", a failed gate says why on the
console, and `--strict` turns a run without a blessed candidate into exit 5. The real
CLI on the 2,000-row taxi sample, in one home."""
import json
import re
from pathlib import Path

import pytest

from serving.model_format import push_target as push
from tests.conftest import run_sluice
from tests.test_gates_e2e import MODEL, gate_config, last_parent

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("promotion")


@pytest.fixture(scope="module")
def config(tmp_path_factory, taxi_sample):
    return gate_config(tmp_path_factory, taxi_sample, "promotion")  # confidence 0.95, the default


def decision_of(home: Path) -> dict:
    _, steps = last_parent(home)
    return json.loads((Path(steps["push"].data.tags["sluice.output.pushed_model"])
                       / "decision.json").read_text())


def test_a_clearly_better_candidate_is_promoted_and_a_noisy_one_is_not(home, config):
    weak = run_sluice("run", "--home", home, "--config", config, "--steps", 20, "--trainer", "keras")
    assert weak.returncode == 0 and push.versions(home / "serving", MODEL) == [1]
    strong = run_sluice("run", "--home", home, "--config", config, "--steps", 600,
                        "--trainer", "keras")
    assert strong.returncode == 0, strong.stderr
    assert push.versions(home / "serving", MODEL) == [1, 2], strong.stderr
    assert re.search(r"beyond the noise \(\+0\.\d{4}, 95% interval \+0\.\d{4}\.\.\+0\.\d{4}, DeLong",
                     strong.stderr), strong.stderr
    interval = decision_of(home)["candidates"][0]["improvement"]
    assert interval["low"] > 0 and interval["test"] == "DeLong"
    # Nearly the same model again: whatever its sign, the difference is noise on these rows.
    same = run_sluice("run", "--home", home, "--config", config, "--steps", 601, "--trainer", "keras")
    assert same.returncode == 0, same.stderr
    assert "blessed, not promoted" in same.stderr and "within the noise (" in same.stderr, same.stderr
    assert re.search(r"95% interval -0\.\d{4}\.\.\+0\.\d{4}", same.stderr), same.stderr
    assert push.versions(home / "serving", MODEL) == [1, 2]
    assert decision_of(home)["promoted"] is False


def test_not_blessed_names_its_checks_and_strict_exits_5(home, tmp_path_factory, taxi_sample):
    impossible = gate_config(tmp_path_factory, taxi_sample, "impossible",
                             thresholds={"auc": 0.999, "accuracy": 0.999, "loss": 0.001})
    result = run_sluice("run", "--home", home, "--config", impossible, "--steps", 30,
                        "--trainer", "torch", "--strict")
    assert result.returncode == 5, result.stderr
    line = next(x for x in result.stderr.splitlines() if "evaluate_torch" in x and "NOT blessed" in x)
    assert re.search(r"NOT blessed \(accuracy 0\.\d{4} >= 0\.999 FAILED; auc 0\.\d{4} >= 0\.999 "
                     r"FAILED \(\+1 more\)\)", line), line
    assert "not pushed: no candidate was blessed (torch: accuracy 0." in result.stderr
    assert "--strict" in result.stderr and push.versions(home / "serving", MODEL) == [1, 2]
    without = run_sluice("run", "--home", home, "--config", impossible, "--steps", 30,
                         "--trainer", "torch")
    assert without.returncode == 0  # the same run, unchanged: up to date, not strict
