"""`sluice schema infer`: a fresh schema from the data, diffed against the curated one."""
import pandas as pd
import pytest

from tests.conftest import run_sluice

pytestmark = pytest.mark.component


def test_infer_writes_a_schema_and_reports_what_changed(tmp_path, taxi_sample):
    frame = pd.read_csv(taxi_sample)
    frame["payment_type"] = frame["payment_type"].where(frame.index % 4 != 0, "Bitcoin")
    frame["surge"] = 1.5
    changed = tmp_path / "changed.csv"
    frame.to_csv(changed, index=False)
    out = tmp_path / "schema.pbtxt"

    result = run_sluice("schema", "infer", "--data", changed, "-o", out)
    assert result.returncode == 0
    assert 'name: "surge"' in out.read_text()
    assert "+ surge: new column (FLOAT)" in result.stdout
    assert "~ payment_type: new values ['Bitcoin']" in result.stdout

    unchanged = run_sluice("schema", "infer", "--data", taxi_sample)
    assert unchanged.returncode == 0 and "surge" not in unchanged.stdout


def test_inferred_schema_has_value_ranges_where_the_data_supports_them(taxi_sample):
    from pipelines.jobs.schema_inference import infer_schema

    schema = infer_schema(taxi_sample, {"trip_start_hour": 24})
    features = {f.name: f for f in schema.feature}
    hour = features["trip_start_hour"].int_domain
    assert (hour.min, hour.max) == (0, 23)
    assert features["trip_miles"].float_domain.min == 0  # never negative in the data
    assert not features["trip_miles"].float_domain.HasField("max")
    assert not features["pickup_longitude"].float_domain.HasField("min")  # negative values


def _anomalies_with(config, schema, home):
    """The real pipeline up to ExampleValidator with this schema -> its anomalies."""
    from tfx.orchestration.pipeline import RunOptions

    from components.gates.anomalies import read_anomalies
    from pipelines.definition.dag import create_pipeline
    from pipelines.definition.home_layout import Paths
    from pipelines.run.beam_args import IN_MEMORY_BEAM
    from pipelines.runners.local import named_runner

    pipeline = create_pipeline(config.replace(schema=schema), Paths(home), ("keras",), IN_MEMORY_BEAM)
    named_runner(home.name).run(pipeline, run_options=RunOptions(to_nodes=["ExampleValidator"]))
    found = home / "pipeline_root" / "ExampleValidator" / "anomalies"
    return read_anomalies(str(max(found.iterdir(), key=lambda p: int(p.name))))


def test_every_bundled_table_passes_the_data_gate_with_its_own_inferred_schema(tmp_path, taxi_sample):
    """Including a table with missing values in numeric and text columns (the cars
    table's case): inferred presence is optional, not `value_count {min: 1}`."""
    from pipelines.jobs.schema_inference import infer_schema, write_schema
    from sluice_config import config as config_module

    frame = pd.read_csv(taxi_sample)
    frame.loc[frame.index % 7 == 0, "fare"] = None
    frame.loc[frame.index % 11 == 0, "company"] = None
    gappy = tmp_path / "gappy.csv"
    frame.to_csv(gappy, index=False)
    taxi, penguin = config_module.load("taxi"), config_module.load("penguin")
    for name, config in (("taxi", taxi.replace(data=taxi_sample)), ("penguin", penguin),
                         ("gappy", taxi.replace(data=gappy))):
        schema = tmp_path / f"{name}.pbtxt"
        write_schema(infer_schema(config.data), schema)
        if name == "gappy":
            fare = schema.read_text().split('name: "fare"')[1].split("feature {")[0]
            assert "min: 1" not in fare.split("value_count")[-1].split("}")[0], fare
        assert _anomalies_with(config, schema, tmp_path / f"home-{name}") == [], name


def test_infer_compares_with_the_curated_schema_as_it_was_before_writing(tmp_path, taxi_sample):
    import yaml

    from sluice_config import config as config_module

    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(taxi_sample), schema="schema.pbtxt")
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(raw))
    curated = tmp_path / "schema.pbtxt"
    first = run_sluice("schema", "infer", "--config", tmp_path / "my.yaml", "-o", curated)
    assert first.returncode == 0 and curated.exists()
    assert "no curated schema at" in first.stdout and "no differences" not in first.stdout
    frame = pd.read_csv(taxi_sample)
    frame["surge"] = 1.5
    frame.to_csv(tmp_path / "more.csv", index=False)
    second = run_sluice("schema", "infer", "--config", tmp_path / "my.yaml", "--data",
                        tmp_path / "more.csv", "-o", curated)
    assert "+ surge: new column (FLOAT)" in second.stdout  # against the file before it was rewritten


def test_infer_on_a_pattern_of_spans_reads_the_newest_or_the_span_asked_for(tmp_path, taxi_sample):
    frame = pd.read_csv(taxi_sample)
    for span, part in ((1, frame.iloc[:1000]), (2, frame.iloc[1000:].assign(payment_type="Bitcoin"))):
        folder = tmp_path / "trips" / f"day-{span}"
        folder.mkdir(parents=True)
        half = len(part) // 2  # two part files: joined under one header
        part.iloc[:half].to_csv(folder / "part-0.csv", index=False)
        part.iloc[half:].to_csv(folder / "part-1.csv", index=False)
    pattern = str(tmp_path / "trips" / "day-{SPAN}" / "*.csv")
    newest = run_sluice("schema", "infer", "--data", pattern)
    assert newest.returncode == 0, newest.stderr
    assert "~ payment_type: new values ['Bitcoin']" in newest.stdout
    first = run_sluice("schema", "infer", "--data", pattern, "--span", "1")
    assert first.returncode == 0, first.stderr
    assert "Bitcoin" not in first.stdout
