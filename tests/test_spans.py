"""Spans as TFX names them: which files a pattern finds, which spans a run takes, and
the refusals that name the pattern, the file or the span."""
from pathlib import Path

import pytest

from sluice_config import spans
from sluice_config.errors import ConfigError

pytestmark = pytest.mark.unit


def deliver(root: Path, *relative: str) -> None:
    for name in relative:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("a,b\n1,2\n")


def test_span_numbers_versions_and_globs(tmp_path):
    deliver(tmp_path, "span-1/v-0/a.csv", "span-1/v-0/b.csv", "span-2/v-0/a.csv", "span-2/v-1/a.csv",
            "span-10/v-0/a.csv", "span-x/v-0/a.csv", "span-3/v-0/notes.txt")
    found = spans.find(tmp_path / "span-{SPAN}/v-{VERSION}/*.csv")
    assert [(s.number, s.version) for s in found] == [(1, 0), (2, 1), (10, 0)]  # numeric order
    assert [f.name for f in found[0].files] == ["a.csv", "b.csv"]
    assert found[1].files == (tmp_path / "span-2/v-1/a.csv",)  # the re-delivery replaces v0
    assert found[1].name == "span 2 version 1"


def test_dates_count_days_since_1970_as_tfx_does(tmp_path):
    deliver(tmp_path, "2026-12-01/t.csv", "2026-12-03/t.csv")
    found = spans.find(tmp_path / "{YYYY}-{MM}-{DD}/*.csv")
    assert [s.number for s in found] == [20788, 20790]
    assert found[0].name == "span 20788 (2026-12-01)"
    assert spans.parse_span("2026-12-03") == 20790
    deliver(tmp_path, "2026-02-30/t.csv")
    with pytest.raises(ConfigError, match="2026-02-30.*not a date"):
        spans.find(tmp_path / "{YYYY}-{MM}-{DD}/*.csv")


def test_window_span_and_range_select(tmp_path):
    deliver(tmp_path, *(f"s{n}.csv" for n in (1, 2, 3, 5)))
    found = spans.find(tmp_path / "s{SPAN}.csv")
    numbers = lambda chosen: [s.number for s in chosen]  # noqa: E731
    assert numbers(spans.select(found, None, 1)) == [5]
    assert numbers(spans.select(found, None, 2)) == [3, 5]  # the newest two that exist
    assert numbers(spans.select(found, "3", 2)) == [2, 3]
    assert numbers(spans.select(found, "2..5", 1)) == [2, 3, 5]  # a range ignores the window
    assert spans.previous(found, found[-1]).number == 3
    assert spans.previous(found, found[0]) is None
    with pytest.raises(ConfigError, match="--span 4: no such span; spans found: 1, 2, 3, 5"):
        spans.select(found, "4", 1)
    with pytest.raises(ConfigError, match="no span in that range"):
        spans.select(found, "6..9", 1)
    with pytest.raises(ConfigError, match="expected a span number"):
        spans.select(found, "latest", 1)
    with pytest.raises(ConfigError, match="no file matches the pattern"):
        spans.select([], None, 1, "x/{SPAN}.csv")


@pytest.mark.parametrize("pattern, message", [
    ("d/{SPAN}/{YYYY}-{MM}-{DD}.csv", "both {SPAN} and a date"),
    ("d/{YYYY}-{MM}.csv", "needs {YYYY}, {MM} and {DD} together"),
    ("d/{SPAN}/{SPAN}.csv", "holds {SPAN} more than once"),
    ("d/v{VERSION}.csv", "add {SPAN}"),
])
def test_bad_patterns_are_refused_when_the_config_loads(tmp_path, pattern, message):
    import yaml

    from sluice_config import config as config_module

    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw["data"] = pattern
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        config_module.from_dict(raw, tmp_path)


def test_training_window_is_at_least_one():
    from sluice_config.config import Training

    with pytest.raises(ConfigError, match="training.window"):
        Training(window=0)
