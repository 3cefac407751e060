"""Continuous training, day by day, as a user's project receives its data: three spans
of the taxi data, one a day, the third with a broken column (trip_miles in other units).
Day 1 trains and pushes; day 2 trains on a window of two spans, is compared with day 1
at the data gate and judged against the champion; day 3 stops at the data gate with
exit 3; a scheduler's check finds nothing new after each day; the span-2 champion is
reproduced from its record while span 3 lies beside it, and refused once span 1 changed.
Runs from a clean clone of HEAD, as reproduce refuses a dirty tree."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipelines.lineage.mlflow_record import recorded_spans
from tests.conftest import ROOT, TAXI_CSV, sluice_env

pytestmark = pytest.mark.e2e
MODEL = "sluice-taxi"
ROWS_PER_SPAN = 1500


class Project:
    """A user's folder: config (data: trips/day-{SPAN}/trips.csv, a window of two spans),
    schema, and the spans delivered so far; the pipeline runs from a clean clone."""

    def __init__(self, work: Path):
        import yaml

        from sluice_config import config as config_module

        self.source, self.home, self.folder = work / "source", work / "home", work / "project"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(self.source)], check=True)
        self.folder.mkdir()
        (self.folder / "schema.pbtxt").write_text(config_module.load("taxi").schema.read_text())
        raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
        raw.update(data="trips/day-{SPAN}/trips.csv", schema="schema.pbtxt")
        raw["training"]["window"] = 2
        self.config = self.folder / "config.yaml"
        self.config.write_text(yaml.safe_dump(raw, sort_keys=False))
        with open(TAXI_CSV, newline="") as handle:
            self.header, *self.rows = list(csv.reader(handle))

    def deliver(self, span: int, broken_column: str | None = None) -> Path:
        path = self.folder / "trips" / f"day-{span}" / "trips.csv"
        path.parent.mkdir(parents=True)
        rows = [list(r) for r in self.rows[span - 1::3][:ROWS_PER_SPAN]]
        if broken_column:  # miles written as something else: 20x, plus 5
            i = self.header.index(broken_column)
            for row in rows:
                row[i] = str(float(row[i]) * 20 + 5) if row[i] else row[i]
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([self.header, *rows])
        return path

    def sluice(self, *args) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *map(str, args), "--config", self.config,
             "--home", self.home], cwd=self.source, capture_output=True, text=True, timeout=900,
            env={**sluice_env(), "PYTHONPATH": str(self.source)})
        print(result.stdout[-3000:], result.stderr[-5000:])
        return result

    def versions(self) -> list[int]:
        from serving.model_format import push_target

        return push_target.versions(self.home / "serving", MODEL)

    def drift_table(self) -> dict:
        reports = sorted((self.home / "pipeline_root" / "check_anomalies" / "report").iterdir(),
                         key=lambda p: int(p.name))
        return json.loads((reports[-1] / "drift.json").read_text())


def test_three_daily_spans_train_judge_stop_and_reproduce(tmp_path):
    project = Project(tmp_path)
    client = lambda: MlflowClient(f"sqlite:///{project.home / 'mlflow.db'}")  # noqa: E731

    # Day 1: the first span trains and pushes.
    project.deliver(1)
    new = project.sluice("spans", "--new")
    assert new.returncode == 0 and new.stdout.strip() == "1"
    first = project.sluice("run", "--trainer", "keras", "--steps", 40)
    assert first.returncode == 0 and project.versions() == [1]
    v1 = client().get_model_version(MODEL, "1")
    assert v1.tags["sluice.span_names"] == "span 1"
    assert project.drift_table()["spans"] is None  # nothing to compare the first span with
    assert project.sluice("spans", "--new").returncode == 99  # a scheduler finds nothing new
    again = project.sluice("run", "--trainer", "keras", "--steps", 40)
    assert again.returncode == 0 and "nothing changed since" in again.stderr

    # Day 2: a window of two spans, span 2 compared with span 1, judged against v1.
    project.deliver(2)
    assert project.sluice("spans", "--new").stdout.strip() == "2"
    second = project.sluice("run", "--trainer", "keras", "--steps", 400)
    assert second.returncode == 0
    table = project.drift_table()
    assert table["spans"]["previous"]["name"] == "span 1" and table["spans"]["newest"]["name"] == "span 2"
    assert {r["reference"] for r in table["rows"]} >= {"the previous span (span 1)"}
    assert not any(r["drifted"] for r in table["rows"])
    assert project.versions() == [1, 2], "more data and steps should beat day 1's model"
    # Judged on the new rows and on the pinned reference's (span 1's) eval rows as well
    blessings = sorted((project.home / "pipeline_root" / "evaluate_keras" / "blessing").iterdir(),
                       key=lambda p: int(p.name))
    judged = json.loads((blessings[-1] / "evaluation.json").read_text())
    assert judged["reference_eval"]["version"] == 1
    assert judged["reference_eval"]["improvement"]["high"] >= 0
    assert any("on version 1's eval rows (the pinned drift reference)" in r for r in judged["reasons"])
    v2 = client().get_model_version(MODEL, "2")
    assert v2.tags["sluice.baseline_version"] == "1" and v2.tags["sluice.span_names"] == "span 1, span 2"
    recorded = recorded_spans(client(), v2.tags["sluice.run_id"])
    assert [(s["span"], s["rows"]) for s in recorded] == [(1, ROWS_PER_SPAN), (2, ROWS_PER_SPAN)]
    assert "on span 1, span 2" in project.sluice("models").stdout
    lineage = project.sluice("lineage")
    assert "span 1: 1,500 rows" in lineage.stdout and "span 2: 1,500 rows" in lineage.stdout
    report = Path(client().download_artifacts(v2.tags["sluice.run_id"], "report.html", str(tmp_path)))
    assert "Spans trained on" in report.read_text() and "the previous span (span 1)" in report.read_text()

    # Day 3: a broken delivery stops at the data gate; nothing is pushed.
    project.deliver(3, broken_column="trip_miles")
    third = project.sluice("run", "--trainer", "keras", "--steps", 400)
    assert third.returncode == 3
    assert "data gate" in third.stderr and "trip_miles" in third.stderr
    assert "the previous span (span 2)" in third.stderr
    assert project.versions() == [1, 2]
    assert client().get_model_version_by_alias(MODEL, "champion").version in ("2", 2)
    assert project.sluice("spans", "--new").returncode == 99  # judged: not retried every day
    # The next run leaves the stopped span out of its window (spans 1-2: nothing changed)
    after = project.sluice("run", "--trainer", "keras", "--steps", 400)
    assert after.returncode == 0 and "window leaves out span 3: it stopped at the data gate" in after.stderr
    assert "nothing changed since" in after.stderr

    # The span-2 champion, reproduced from its record with span 3 beside it.
    reproduced = project.sluice("reproduce", "models:/sluice-taxi/2")
    assert reproduced.returncode == 0, reproduced.stderr[-2000:]
    assert "sluice.reproduction.result" in client().get_model_version(MODEL, "2").tags
    with open(project.folder / "trips" / "day-1" / "trips.csv", "a") as handle:
        handle.write(",".join(project.rows[-1]) + "\n")  # span 1 changed in place
    refused = project.sluice("reproduce", "models:/sluice-taxi/2")
    assert refused.returncode == 2 and "span 1 changed" in refused.stderr
