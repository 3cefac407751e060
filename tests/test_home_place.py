"""A home moved to another folder is refused, naming both (pipelines.run.home_place)."""
import pytest

from tests.conftest import run_sluice

pytestmark = pytest.mark.component


def test_a_moved_home_is_refused_naming_both_folders_and_a_copy_works(tmp_path):
    from pipelines.run import home_place

    home = tmp_path / "project" / "sluice_home"
    home_place.remember(home)
    home_place.check(home)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / home_place.PLACE_FILE).write_text((home / home_place.PLACE_FILE).read_text())
    home_place.check(copy)  # the original is still there: its paths still read
    moved = tmp_path / "elsewhere"
    (tmp_path / "project").rename(moved)
    result = run_sluice("models", "--home", moved / "sluice_home")
    assert result.returncode == 2
    assert f"the home {moved / 'sluice_home'} was made at {home} and moved since" in result.stderr
    assert f"Move it back to {home}" in result.stderr
