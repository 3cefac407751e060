"""The pre-flight over a window of spans: each file checked once (kept by path, size
and modification time), the window joined into the one CSV ExampleGen reads, a bad span
named by its own file and line, and each span's digest recorded; reproduce refuses a
span that changed or was delivered again."""
import csv

import pytest

from components.executors import preflight
from pipelines.run import span_window
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


def test_spans_new_sees_a_new_span_a_new_version_and_an_edit_and_nothing_else(tmp_path, capsys):
    """`sluice spans --new`: 0 and the span's number when no run judged the newest
    span, 99 when one did; a re-delivery (a higher {VERSION}) or an edit in place is new."""
    import yaml

    from pipelines.cli import EXIT_NOTHING_NEW, main

    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data="trips/{YYYY}-{MM}-{DD}/v{VERSION}.csv", schema=str(config_module.load("taxi").schema))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    home = tmp_path / "home"

    def deliver(day: str, version: int) -> None:
        path = tmp_path / "trips" / day / f"v{version}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(TAXI_CSV.read_text()[:20_000].rsplit("\n", 1)[0] + "\n")

    def new() -> tuple[int, str]:
        code = main(["spans", "--new", "--config", str(tmp_path / "config.yaml"), "--home", str(home)])
        return code, capsys.readouterr().out.strip()

    def judged() -> None:  # what a run that judged the newest span leaves behind
        config = config_module.load(tmp_path / "config.yaml")
        window = span_window.resolve(config)
        data = span_window.check_window(config, window, home / "inputs")
        span_window.remember_processed(home, data.spans[-1])

    deliver("2026-12-01", 0)
    assert new() == (0, "20788")
    judged()
    assert new() == (EXIT_NOTHING_NEW, "")
    deliver("2026-12-01", 1)  # delivered again
    assert new() == (0, "20788")
    judged()
    assert new()[0] == EXIT_NOTHING_NEW
    path = tmp_path / "trips" / "2026-12-01" / "v1.csv"
    path.write_text(path.read_text() + path.read_text().splitlines()[1] + "\n")  # edited in place
    assert new() == (0, "20788")
    deliver("2026-12-02", 0)
    assert new() == (0, "20789")


def test_a_span_of_small_part_files_is_judged_as_a_whole(tmp_path):
    """Part files of 30 rows (each too few for the eval split alone) pass as a window
    of 120 rows; a window too small for the eval split is refused naming the pattern."""
    with open(TAXI_CSV, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    for part in range(4):
        path = tmp_path / "trips" / "day-1" / f"part-{part}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows[part * 30:(part + 1) * 30]])
    config = config_module.load("taxi").replace(data=tmp_path / "trips" / "day-{SPAN}" / "part-*.csv")
    data = span_window.check_window(config, span_window.resolve(config), tmp_path / "inputs")
    assert data.rows == 120 and data.spans[0]["files"] == [str(p) for p in sorted(
        (tmp_path / "trips" / "day-1").glob("part-*.csv"))]
    for part in (1, 2, 3):
        (tmp_path / "trips" / "day-1" / f"part-{part}.csv").unlink()
    with pytest.raises(preflight.DataError, match=r"day-\{SPAN\}/part-\*\.csv \(span 1\): 30 rows; the eval split"):
        span_window.check_window(config, span_window.resolve(config), tmp_path / "inputs")


def test_a_span_stopped_at_the_data_gate_is_left_out_until_redelivered_or_accepted(project):
    from pipelines.run import span_ledger

    config, staging = project
    home = staging.parent
    data = span_window.check_window(config, span_window.resolve(config, home=home), staging)
    span_ledger.record_stopped(home, data.spans[-1], "the label temp drifted from the drift reference")
    window = span_window.resolve(config, home=home)
    assert [s.number for s in window.spans] == [1, 2] and window.previous.number == 1
    assert "window leaves out span 3: it stopped at the data gate on" in window.notes[0]
    assert "(the label temp drifted from the drift reference)" in window.notes[0]
    assert "sluice spans accept 3" in window.notes[0]
    assert window.notes[0] in span_window.check_window(config, window, staging).notes  # the step log
    assert [s.number for s in span_window.resolve(config, "3", home).spans] == [2, 3]  # asked for
    # re-delivered with other contents: in the window again
    newest = span_window.resolve(config).newest.files[0]
    newest.write_text(newest.read_text() + newest.read_text().splitlines(keepends=True)[-1])
    assert [s.number for s in span_window.resolve(config, home=home).spans] == [2, 3]
    # stopped again, then accepted as it is: in the window again
    span_ledger.record_stopped(home, span_window.record_of(home, span_window.resolve(config).newest), "x")
    assert [s.number for s in span_window.resolve(config, home=home).spans] == [1, 2]
    span_ledger.accept(home, span_window.record_of(home, span_window.resolve(config).newest), "ok", "me")
    assert [s.number for s in span_window.resolve(config, home=home).spans] == [2, 3]


def test_a_span_trained_on_and_changed_in_place_is_refused_with_both_digests(project):
    from pipelines.run import span_ledger

    config, staging = project
    home = staging.parent
    data = span_window.check_window(config, span_window.resolve(config, home=home), staging)
    span_ledger.record_trained(home, data.spans)
    was = data.spans[0]["sha256"]
    oldest = span_window.resolve(config).spans[0].files[0]
    oldest.write_text(oldest.read_text().replace(",", ";", 1).replace(";", ",", 1) + "\n")
    with pytest.raises(preflight.DataError) as err:
        span_window.check_window(config, span_window.resolve(config, home=home), staging)
    assert "span 2 changed in place since a run trained on it" in str(err.value)
    assert f"sha256 {was[:16]}… then" in str(err.value) and "sluice spans accept 2" in str(err.value)
