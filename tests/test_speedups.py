"""The speed-ups of third-party code (pipelines.patches.speedups) and the background MLflow store
creation keep the libraries' behaviour."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate

from pipelines.lineage import mlflow_store
from pipelines.patches import speedups

pytestmark = pytest.mark.component

ROOT = Path(__file__).resolve().parent.parent


def test_tfx_orchestration_imports_without_every_component_and_components_still_resolve():
    script = (
        "import sys\n"
        "from pipelines.patches import speedups\n"
        "speedups.install()\n"
        "from tfx.orchestration.local.local_dag_runner import LocalDagRunner\n"
        "print('torch' in sys.modules, 'tfx.components.bulk_inferrer.executor' in sys.modules)\n"
        "import tfx.components\n"
        "from tfx.components import Evaluator\n"
        "print(tfx.components.Transform.__name__, Evaluator.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["False False", "Transform Evaluator"]


class CountPerKey(beam.DoFn):
    COUNT = userstate.ReadModifyWriteStateSpec("count", VarIntCoder())

    def process(self, element, count=beam.DoFn.StateParam(COUNT)):
        seen = (count.read() or 0) + 1
        count.write(seen)
        yield element[0], seen


def test_dofn_specs_are_computed_once_per_dofn_and_stateful_dofns_still_run():
    speedups.install()
    dofn = CountPerKey()
    first = userstate.get_dofn_specs(dofn)
    assert [s.name for s in first[0]] == ["count"] and first[1] == set()
    first[0].clear()  # a caller changing its answer does not change the next one
    assert [s.name for s in userstate.get_dofn_specs(dofn)[0]] == ["count"]
    assert userstate.is_stateful_dofn(dofn) and not userstate.is_stateful_dofn(beam.DoFn())

    with beam.Pipeline(options=beam.options.pipeline_options.PipelineOptions(
            ["--direct_running_mode=in_memory"])) as pipeline:
        counted = pipeline | beam.Create([("a", 1), ("a", 2), ("b", 3)]) | beam.ParDo(CountPerKey())
        assert_that(counted, equal_to([("a", 1), ("a", 2), ("b", 1)]))  # state kept per key


def test_tfx_packages_itself_for_remote_runners_only(monkeypatch):
    from tfx.utils import dependency_utils

    speedups.install()
    built = []
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: built.append(1) or "/tmp/tfx_ephemeral.tar.gz")
    local = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    assert dependency_utils.make_beam_dependency_flags(local) == local
    assert dependency_utils.make_beam_dependency_flags(["--runner=DirectRunner"]) == ["--runner=DirectRunner"]
    assert built == []
    remote = dependency_utils.make_beam_dependency_flags(["--runner=PortableRunner"])
    assert remote == ["--runner=PortableRunner", "--extra_package=/tmp/tfx_ephemeral.tar.gz"]
    assert built == [1]
    # workers started from sluice's environment have tfx (scripts/beam_cluster.sh)
    external = ["--runner=PortableRunner", "--environment_type=EXTERNAL", "--environment_config=h:1"]
    assert dependency_utils.make_beam_dependency_flags(external) == external
    assert built == [1]


def test_mlflow_store_is_created_in_the_background_only_when_missing(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    creation = mlflow_store.create_in_background(uri)
    assert creation is not None
    mlflow_store.wait_for(creation)
    assert creation.process.returncode == 0 and (tmp_path / "home" / "mlflow.db").is_file()
    client = MlflowClient(uri)
    client.create_experiment("after-background-creation")
    assert client.get_experiment_by_name("after-background-creation") is not None
    assert mlflow_store.create_in_background(uri).process is None  # exists now: left alone
    assert mlflow_store.create_in_background("http://127.0.0.1:5000") is None


def test_two_runs_creating_one_store_at_once_both_get_a_working_store(tmp_path):
    """The second waits on the creator's lock instead of migrating the same file."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    creations = [mlflow_store.create_in_background(uri) for _ in range(2)]
    for creation in creations:
        mlflow_store.wait_for(creation)
    assert [c.process.returncode for c in creations] == [0, 0]
    assert MlflowClient(uri).search_experiments()
