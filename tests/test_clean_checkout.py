"""Commands run from the repository root leave the checkout as they found it: no
`mlflow.db` (MLflow writes one in the working folder when no store is named), no stray
state; a home is named explicitly or lives in the ignored ./sluice_home."""
import subprocess

import pytest

from tests.conftest import ROOT, run_sluice

pytestmark = pytest.mark.component


def checkout_state() -> set[str]:
    """git's view of the working tree, ignored files included (but not the venvs, the
    default home, the built docs and caches that the test run itself makes)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    made_by_the_suite = (".venv", "sluice_home", ".site", ".pytest_cache", "sluice.egg-info", "__pycache__")
    return {line for line in out if not any(part in line for part in made_by_the_suite)}


def test_commands_from_the_repository_root_leave_the_checkout_clean(tmp_path):
    before = checkout_state()
    home = tmp_path / "home"
    for args in (["models", "--home", home], ["lineage", "--home", home], ["drift", "show", "--home", home],
                 ["spans", "--home", home, "--data", ROOT / "data" / "taxi" / "data.csv"]):
        run_sluice(*args)
    assert not (ROOT / "mlflow.db").exists() or "mlflow.db" in str(before)
    assert checkout_state() == before
