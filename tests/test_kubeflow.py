"""`sluice compile kubeflow`: a Kubeflow Pipelines v2 spec of the same graph as the local
run. No cluster is needed or pretended: the spec is parsed with KFP's own proto."""
import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.conftest import run_sluice

DATAFLOW = ["--beam-arg=--runner=DataflowRunner", "--beam-arg=--project=my-gcp-project",
            "--beam-arg=--region=europe-west1", "--beam-arg=--temp_location=gs://bucket/tmp"]
BEAM_STEPS = ("CsvExampleGen", "StatisticsGen", "Transform")  # the steps that run on Beam

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp")
    kfp = run_sluice("compile", "kubeflow", "-o", out / "pipeline.json", "--image", "registry.local/sluice:7",
                     *DATAFLOW, "--pipeline-root", "gs://bucket/sluice")
    local = run_sluice("compile", "airflow", "-o", out / "dags", *DATAFLOW)
    assert kfp.returncode == 0 and local.returncode == 0
    return (json.loads((out / "pipeline.json").read_text()),
            json.loads((out / "dags" / "sluice_taxi.json").read_text()))


def test_spec_parses_as_a_kfp_pipeline_spec_with_every_step(compiled):
    job, local = compiled
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec(),
                                 ignore_unknown_fields=False)
    assert spec.pipeline_info.name == "sluice-taxi"
    assert set(spec.root.dag.tasks) == {s["id"] for s in local["steps"]}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/sluice"


def test_dependencies_match_the_local_graph(compiled):
    job, local = compiled
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    for step in local["steps"]:
        assert sorted(tasks[step["id"]].get("dependentTasks", [])) == step["upstream"], step["id"]


def test_image_and_beam_args_reach_every_executor(compiled):
    job, local = compiled
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    containers = {name: e["container"] for name, e in executors.items() if "container" in e}
    assert containers and {c["image"] for c in containers.values()} == {"registry.local/sluice:7"}
    # TFX's executor entrypoint imports TensorFlow before the trainer: the switch is set for it
    assert all({"name": "TF_USE_LEGACY_KERAS", "value": "1"} in c.get("env", []) for c in containers.values())
    # and MLflow's usage reports stay off in every task (no sluice entry point sets it there)
    assert all({"name": "MLFLOW_DISABLE_TELEMETRY", "value": "true"} in c.get("env", [])
               for c in containers.values())
    for step in BEAM_STEPS:  # the Dataflow flags reach each data step's executor arguments
        spec = json.dumps(next(c for name, c in containers.items() if name.startswith(step)))
        for flag in DATAFLOW:
            assert flag.removeprefix("--beam-arg=") in spec, (step, flag)
    # and every Airflow task's `sluice run` command
    assert all(flag in local["command"] for flag in DATAFLOW)


from tests.test_candidates import CANDIDATES, project  # noqa: E402,F401  (the user project fixture)


def test_a_user_project_compiles_with_its_candidates_for_kubeflow_and_airflow(project, tmp_path):  # noqa: F811
    """A project outside the checkout with five candidates (the user's modules beside its
    config): every candidate's steps are tasks in the Kubeflow spec and the Airflow DAG;
    each train task names its candidate and carries its module's content digest; every
    Airflow task's command trains exactly these candidates from that config."""
    config = project / "config.yaml"
    kfp = run_sluice("compile", "kubeflow", "-o", tmp_path / "pipeline.json", "--config", config,
                     "--image", "registry.local/sluice:7")
    dags = run_sluice("compile", "airflow", "-o", tmp_path / "dags", "--config", config)
    assert kfp.returncode == 0 and dags.returncode == 0, kfp.stderr + dags.stderr
    job = json.loads((tmp_path / "pipeline.json").read_text())
    local = json.loads((tmp_path / "dags" / "sluice_taxi.json").read_text())
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    for name in CANDIDATES:
        assert f"train_{name}" in tasks and f"evaluate_{name}" in tasks
        assert {f"train_{name}", f"evaluate_{name}"} <= {s["id"] for s in local["steps"]}
    specs = json.dumps(job["pipelineSpec"])
    assert "sluice_candidate" in specs and "my_models.wide_deep" in specs and "sluice_content_sha256" in specs
    assert f"--trainer {','.join(CANDIDATES)}" in " ".join(local["command"]) and str(config) in local["command"]


def test_data_in_spans_compiles_with_the_span_as_a_runtime_parameter(tmp_path):
    """ExampleGen resolves the pattern with TFX's own driver; the span is the job's
    runtime parameter (a RangeConfig as JSON, empty by default: the newest span)."""
    import yaml

    from sluice_config import config as config_module

    raw = yaml.safe_load((config_module.CONFIG_DIR / "taxi.yaml").read_text())
    raw.update(data=str(tmp_path / "trips" / "day-{SPAN}" / "*.csv"),
               schema=str(config_module.load("taxi").schema))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    result = run_sluice("compile", "kubeflow", "-o", tmp_path / "job.json", "--config",
                        tmp_path / "config.yaml", "--home", tmp_path / "home")
    assert result.returncode == 0
    job = json.loads((tmp_path / "job.json").read_text())
    assert job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]["span"] == {"type": "STRING"}
    assert job["runtimeConfig"]["parameterValues"]["span"] == ""
    example_gen = job["pipelineSpec"]["root"]["dag"]["tasks"]["CsvExampleGen"]["inputs"]["parameters"]
    assert example_gen["range_config"] == {"componentInputParameter": "span"}
    assert example_gen["input_base"]["runtimeValue"]["constantValue"]["stringValue"] == str(tmp_path / "trips")
    input_config = example_gen["input_config"]["runtimeValue"]["constantValue"]["stringValue"]
    assert "day-{SPAN}/*.csv" in input_config

    # What ExampleGen's driver does with them on the cluster: TFX's own span resolution
    from google.protobuf import json_format as proto_json
    from tfx.components.example_gen import utils
    from tfx.proto import example_gen_pb2, range_config_pb2

    for day in (1, 2):
        (tmp_path / "trips" / f"day-{day}").mkdir(parents=True)
        (tmp_path / "trips" / f"day-{day}" / "a.csv").write_text("a\n1\n")
    base = example_gen["input_base"]["runtimeValue"]["constantValue"]["stringValue"]

    def span(range_config=None) -> int:  # (the driver rewrites the splits it is given)
        splits = proto_json.Parse(input_config, example_gen_pb2.Input()).splits
        return utils.calculate_splits_fingerprint_span_and_version(base, splits, range_config)[1]

    assert span() == 2  # the default: the newest span
    assert span(proto_json.Parse('{"static_range": {"start_span_number": 1, "end_span_number": 1}}',
                                 range_config_pb2.RangeConfig())) == 1


def test_runner_portable_reaches_every_data_step_of_both_orchestrators(tmp_path):
    """--runner portable compiles to the same Beam arguments as `sluice run` sets; the
    job server is where the job runs later, so compiling does not ask it."""
    from pipelines.run.portable_cluster import beam_args

    portable = ["--runner", "portable", "--job-endpoint", "jobs.example:8099"]
    kfp = run_sluice("compile", "kubeflow", "-o", tmp_path / "pipeline.json", *portable)
    dags = run_sluice("compile", "airflow", "-o", tmp_path / "dags", *portable)
    assert kfp.returncode == 0 and dags.returncode == 0
    expected = beam_args("jobs.example:8099")
    executors = json.loads((tmp_path / "pipeline.json").read_text())["pipelineSpec"]["deploymentSpec"]["executors"]
    for step in BEAM_STEPS:
        spec = json.dumps(next(e["container"] for name, e in executors.items() if name.startswith(step)))
        assert all(arg in spec for arg in expected), step
    command = json.loads((tmp_path / "dags" / "sluice_taxi.json").read_text())["command"]
    assert all(f"--beam-arg={arg}" in command for arg in expected)
