"""The pre-flight over a window of spans: each file checked once (kept by path, size
and modification time), the window joined into the one CSV ExampleGen reads, a bad span
named by its own file and line, and each span's digest recorded; reproduce refuses a
span that changed or was delivered again."""
import csv

import pytest

from pipelines.run import preflight, span_window
from sluice_config import config as config_module
from tests.conftest import TAXI_CSV

pytestmark = pytest.mark.unit
ROWS = 90


@pytest.fixture
def project(tmp_path):
    """taxi config with data trips/day-{SPAN}/*.csv and a window of two; spans 1-3."""
    with open(TAXI_CSV, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    for span in (1, 2, 3):
        path = tmp_path / "trips" / f"day-{span}" / "a.csv"
        path.parent.mkdir(parents=True)
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows[span * ROWS:(span + 1) * ROWS]])
    taxi = config_module.load("taxi")
    config = taxi.replace(data=tmp_path / "trips" / "day-{SPAN}" / "*.csv",
                          training=taxi.training.__class__(window=2))
    return config, tmp_path / "home" / "inputs"


def test_the_window_is_checked_once_joined_and_recorded(project, monkeypatch):
    config, staging = project
    window = span_window.resolve(config)
    assert [s.number for s in window.spans] == [2, 3] and window.previous.number == 2
    data = span_window.check_window(config, window, staging)
    assert data.rows == 2 * ROWS and data.path.parent.parent == staging
    with open(data.path, newline="") as handle:
        joined = list(csv.reader(handle))
    parts = [list(csv.reader(open(f, newline=""))) for f in window.files]
    assert joined == [parts[0][0], *parts[0][1:], *parts[1][1:]]  # one header, the rows in order
    assert [(s["span"], s["rows"]) for s in data.spans] == [(2, ROWS), (3, ROWS)]
    assert data.previous_span["name"] == "span 2"  # the span before the newest
    assert data.sha256 == span_window.digest(window, staging)  # the up-to-date check's digest

    checked = []
    monkeypatch.setattr(preflight, "check_data", lambda c, *a: checked.append(c.data))
    again = span_window.check_window(config, window, staging)  # unchanged files: not read again
    assert checked == [] and again.sha256 == data.sha256 and again.path == data.path


def test_a_bad_span_is_named_by_its_own_file_and_line(project):
    config, staging = project
    newest = span_window.resolve(config).newest.files[0]
    lines = newest.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ",,", 1)
    newest.write_text("".join(lines))
    with pytest.raises(preflight.DataError, match=f"{newest}: line 6 has"):
        span_window.check_window(config, span_window.resolve(config), staging)


def test_spans_with_other_columns_are_refused(project):
    config, staging = project
    newest = span_window.resolve(config).newest.files[0]
    newest.write_text("".join(line.rstrip("\n") + ",x\n" for line in newest.read_text().splitlines()))
    with pytest.raises(preflight.DataError, match=f"{newest}: its header differs from"):
        span_window.check_window(config, span_window.resolve(config), staging)


def test_reproduce_refuses_a_changed_or_redelivered_span(tmp_path):
    from pipelines.lineage.reproduce import Record, ReproductionRefused, _check_spans
    from sluice_config import sources

    first = tmp_path / "s" / "1" / "v0.csv"
    first.parent.mkdir(parents=True)
    first.write_text("a\n1\n")
    recorded = [{"span": 1, "version": 0, "files": [str(first)], "name": "span 1 version 0",
                 "sha256": sources.file_sha256(first), "rows": 1}]
    record = Record("m", "4", "run", "c", "l", {}, tmp_path / "s" / "{SPAN}" / "v{VERSION}.csv", "",
                    "", "keras", "", {}, recorded)
    assert record.span_range == "1..1"
    assert _check_spans(record, None) == record.data
    first.write_text("a\n2\n")
    with pytest.raises(ReproductionRefused, match="span 1 version 0 changed"):
        _check_spans(record, None)
    (tmp_path / "s" / "1" / "v1.csv").write_text("a\n1\n")
    with pytest.raises(ReproductionRefused, match="delivered again as version 1"):
        _check_spans(record, None)
