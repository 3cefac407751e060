"""`sluice drift show` and `sluice drift pin` on a real serving dir: the reference the
next run's drift gate measures against, and re-pinning it to another version's data."""
import json

import pytest

from components.gates import drift_reference
from serving.model_format import push_target
from tests.conftest import run_sluice

pytestmark = pytest.mark.component
MODEL = "sluice-taxi"


def test_show_names_the_first_champion_and_pin_moves_the_reference(tmp_path):
    home = tmp_path / "home"
    for name in ("a", "b"):
        model_dir = home / "trained" / name
        model_dir.mkdir(parents=True)
        push_target.push(model_dir, home / "serving", MODEL,
                         {"model_uri": name, "statistics_uri": str(tmp_path / f"stats-{name}")})
    shown = run_sluice("drift", "show", "--home", home)
    assert shown.returncode == 0, shown.stderr
    assert "pinned: the first champion's data (version 1)" in shown.stdout
    assert str(tmp_path / "stats-a") in shown.stdout

    pinned = run_sluice("drift", "pin", "--home", home, "--to", 2, "--reason", "new season",
                        "--by", "alice")
    assert pinned.returncode == 0, pinned.stderr
    assert "the drift reference is now version 2's data" in pinned.stdout
    record = json.loads((home / "serving" / MODEL / drift_reference.PIN_FILE).read_text())
    assert (record["version"], record["by"], record["reason"]) == (2, "alice", "new season")
    assert "pinned: version 2's data" in run_sluice("drift", "show", "--home", home).stdout

    missing = run_sluice("drift", "pin", "--home", home, "--to", 9)
    assert missing.returncode == 2 and "no version 9 to pin; versions on disk: 1, 2" in missing.stderr
