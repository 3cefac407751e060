"""The recording layer's own rules (components.recording): a step stands behind a
recording executor with its spec's kind and arguments kept, and the fluent API's store
is set for a block only, leaving the process as it was."""
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.component


def test_a_recorded_step_keeps_its_spec_kind_arguments_and_names_its_own_executor():
    import json

    from tfx.components.statistics_gen.component import StatisticsGen
    from tfx.dsl.components.base import executor_spec
    from tfx.types import channel_utils, standard_artifacts

    from components.recording.executor import STEP_KEY, RecordedBeamExecutor, recorded

    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    step = StatisticsGen(examples=examples).with_id("StatisticsGen")
    own = step.executor_spec.class_path
    step.executor_spec.add_beam_pipeline_args(["--runner=FnApiRunner"])
    recorded(step)
    assert isinstance(step.executor_spec, executor_spec.BeamExecutorSpec)
    assert step.executor_spec.executor_class is RecordedBeamExecutor
    assert step.executor_spec.beam_pipeline_args == ["--runner=FnApiRunner"]
    assert json.loads(step.exec_properties[STEP_KEY]) == {"id": "StatisticsGen", "executor": own}


def test_the_fluent_store_is_set_for_the_block_only():
    """Run apart: MLflow keeps the URIs in module globals and exported variables."""
    script = textwrap.dedent("""
        import os, mlflow
        from components.recording import fluent
        assert "MLFLOW_TRACKING_URI" not in os.environ
        with fluent.store("sqlite:////tmp/a.db"):
            assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == "sqlite:////tmp/a.db"
        assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
        mlflow.set_tracking_uri("sqlite:////tmp/mine.db")
        with fluent.store("sqlite:////tmp/b.db"):
            pass
        assert mlflow.get_tracking_uri() == "sqlite:////tmp/mine.db", mlflow.get_tracking_uri()
        assert "MLFLOW_REGISTRY_URI" not in os.environ
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "MLFLOW_REGISTRY"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
