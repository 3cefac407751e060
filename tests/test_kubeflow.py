"""`sluice compile kubeflow`: a Kubeflow Pipelines v2 spec of the same graph as the local
run. No cluster is needed or pretended: the spec is parsed with KFP's own proto."""
import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.conftest import run_sluice

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp")
    kfp = run_sluice("compile", "kubeflow", "-o", out / "pipeline.json", "--image", "registry.local/sluice:7",
                     "--beam-arg=--direct_num_workers=4", "--pipeline-root", "gs://bucket/sluice")
    local = run_sluice("compile", "airflow", "-o", out / "dags")
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
    job, _ = compiled
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    containers = [e["container"] for e in executors.values() if "container" in e]
    assert containers and {c["image"] for c in containers} == {"registry.local/sluice:7"}
    transform = next(c for name, c in ((n, e.get("container", {})) for n, e in executors.items())
                     if name.startswith("Transform"))
    assert "--direct_num_workers=4" in json.dumps(transform)
    # TFX's executor entrypoint imports TensorFlow before the trainer: the switch is set for it
    assert all({"name": "TF_USE_LEGACY_KERAS", "value": "1"} in c.get("env", []) for c in containers)
