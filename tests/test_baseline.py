"""The baseline input (components.baseline) through a real TFX run: an Importer of the
serving version, run by our named LocalDagRunner. Guards the two things the gates rely
on: the same serving version is the same ML Metadata artifact (so unchanged baselines
keep the gates cached, and a new champion is a new input), and our pipeline run id
reaches ML Metadata (steps_of_run finds this run's executions: TFX internals,
runtime_parameter_utils, tfx 1.16)."""
import json

import pytest

from components import baseline
from components.artifacts import tfx_layout
from pipelines.lineage import mlmd
from pipelines.runners.local import named_runner
from serving.model_format import push_target as push

pytestmark = pytest.mark.component


def run_baseline(tmp_path, run_id: str):
    from tfx.orchestration import metadata
    from tfx.orchestration.pipeline import Pipeline

    node = baseline.baseline_node(tmp_path / "serving", "m", tmp_path / "root")
    pipeline = Pipeline(
        pipeline_name="baseline-test", pipeline_root=str(tmp_path / "root"), components=[node],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite")))
    named_runner(run_id).run(pipeline)
    steps = mlmd.steps_of_run(tmp_path / "metadata.sqlite", run_id)
    assert [s.node_id for s in steps] == ["baseline"], steps
    return steps[0].output("result")


def test_baseline_artifact_is_the_serving_version_and_stable(tmp_path):
    none = run_baseline(tmp_path, "run-1")
    assert tfx_layout.custom_properties(none)["serving_version"] == 0

    model = tmp_path / "model"
    model.mkdir()
    push.push(model, tmp_path / "serving", "m", {"model_uri": "trained-a", "statistics_uri": "/s"})
    first = run_baseline(tmp_path, "run-2")
    props = tfx_layout.custom_properties(first)
    assert props["serving_version"] == 1 and props["model_uri"] == "trained-a"
    assert props["statistics_uri"] == "/s" and first.uri == str(tmp_path / "serving" / "m" / "1")

    again = run_baseline(tmp_path, "run-3")
    assert again.id == first.id  # same version, same artifact: the gates stay cached

    push.push(model, tmp_path / "serving", "m", {"model_uri": "trained-b"})
    push.roll_back(tmp_path / "serving", "m", 1)
    back = run_baseline(tmp_path, "run-4")
    assert back.id == first.id  # a rollback to v1 is v1 again
    assert json.loads((tmp_path / "serving" / "m" / "1" / push.PUSH_MARKER).read_text())["version"] == 1
