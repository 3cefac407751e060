"""Guards for every patch of a library's internals and every private API sluice uses.
Each fails loudly, naming the library and its version, when the patched or called
symbol moves or changes behaviour, instead of letting a speed-up or a gate silently
stop working. Where the patch itself keeps behaviour, tests/test_speedups.py checks."""

import logging

import apache_beam as beam
import pytest
import tensorflow as tf
import tfx
from apache_beam.transforms import userstate
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types.standard_artifacts import String

from pipelines.patches import speedups
from tests.test_speedups import CountPerKey

BEAM, TFX, TF = f"apache-beam {beam.__version__}", f"tfx {tfx.__version__}", f"tensorflow {tf.__version__}"



class NoOpBeamExecutor(BaseBeamExecutor):
    """An executor like every TFX Beam component's."""

    def Do(self, input_dict, output_dict, exec_properties):
        pass


@component
def hello(greeting: OutputArtifact[String]):
    greeting.value = "hello"


@pytest.mark.unit
def test_beam_reaches_dofn_specs_through_the_patched_module_attribute(monkeypatch):
    """speedups.memoize_beam_dofn_specs replaces userstate.get_dofn_specs; Beam must
    look it up there when it builds a step, or the memo is never used."""
    speedups.install()
    assert getattr(userstate.get_dofn_specs, "memoized", False), f"{BEAM}: the memo is not installed"
    calls = []
    memoized = userstate.get_dofn_specs
    monkeypatch.setattr(userstate, "get_dofn_specs", lambda dofn: calls.append(dofn) or memoized(dofn))
    beam.ParDo(CountPerKey())
    assert calls, (f"{BEAM} no longer calls apache_beam.transforms.userstate.get_dofn_specs when "
                   "it builds a ParDo: pipelines/patches/speedups.memoize_beam_dofn_specs patches "
                   "nothing now; find the new call site or drop the patch")


@pytest.mark.unit
def test_tfx_beam_executors_ask_the_patched_dependency_flags(monkeypatch):
    """speedups.skip_tfx_packaging_for_direct_runner replaces
    dependency_utils.make_beam_dependency_flags; TFX's Beam executors must call it
    through the module, or every step builds a TFX sdist again (~2 s each)."""
    from tfx.utils import dependency_utils

    speedups.install()
    built = []
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: built.append(1) or "/tmp/tfx_ephemeral.tar.gz")
    NoOpBeamExecutor(BaseBeamExecutor.Context(beam_pipeline_args=["--direct_running_mode=in_memory"]))
    assert built == [], f"{TFX}: a DirectRunner step packages TFX again; the patch is bypassed"
    NoOpBeamExecutor(BaseBeamExecutor.Context(beam_pipeline_args=["--runner=PortableRunner"]))
    assert built == [1], f"{TFX}: a remote runner no longer gets TFX packaged"


@pytest.mark.unit
def test_concrete_function_call_flat_has_the_signature_the_model_server_uses():
    """serving.model_format.model calls ConcreteFunction._call_flat(tensors, captured_inputs)
    (private; the public call costs ~0.9 ms more per prediction)."""
    import inspect

    from serving.model_format.model import _call_flat

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)], autograph=False)
    def double(x):
        return x * 2

    function = double.get_concrete_function()
    assert hasattr(function, "_call_flat"), f"{TF}: ConcreteFunction._call_flat is gone"
    parameters = list(inspect.signature(type(function)._call_flat).parameters)
    assert parameters == ["self", "tensor_inputs", "captured_inputs"], f"{TF}: _call_flat{parameters}"
    x = tf.constant([1.0, 2.5])
    assert _call_flat(function, [x]).numpy().tolist() == function(x).numpy().tolist() == [2.0, 5.0]


@pytest.mark.component
def test_tfx_log_templates_still_drive_the_step_log(tmp_path, caplog):
    """pipelines.run.step_log turns TFX's "Component %s is running." / "... is finished."
    / "A cached execution %d is used." records into the step log, and "Going to run a
    new execution %d" into its on_execute hook (what starts infra validation's server
    ahead). A tiny pipeline, run twice by the real LocalDagRunner, must produce both a
    run line and a cached line, and call the hook for the first run only."""
    from tfx.orchestration import metadata
    from tfx.orchestration.pipeline import Pipeline

    from pipelines.run import step_log
    from pipelines.runners.local import named_runner

    def run(run_id):
        pipeline = Pipeline(pipeline_name="guard", pipeline_root=str(tmp_path / "root"),
                            components=[hello().with_id("hello")], enable_cache=True,
                            metadata_connection_config=metadata.sqlite_metadata_connection_config(
                                str(tmp_path / "metadata.sqlite")))
        named_runner(run_id).run(pipeline)

    executed = []
    handler = step_log.install(lambda node: "figure", on_execute=executed.append)
    try:
        with caplog.at_level(logging.INFO, logger="sluice"):
            run("first")
            run("second")
    finally:
        logging.getLogger("absl").removeHandler(handler)
    lines = [r.getMessage() for r in caplog.records if r.name == "sluice"]
    assert "▶ hello" in lines, f"{TFX}: no 'Component %s is running.' record; the step log is blind: {lines}"
    finished = [line for line in lines if line.startswith("✔ hello")]
    assert len(finished) == 2, f"{TFX}: no 'Component %s is finished.' record: {lines}"
    assert "cached" not in finished[0] and "cached" in finished[1], (
        f"{TFX}: 'A cached execution %d is used.' no longer logged: {finished}")
    assert executed == ["hello"], (
        f"{TFX}: 'Going to run a new execution %d' is not logged once per executed step: {executed}")


@pytest.mark.unit
def test_tfx_transform_creates_its_processor_by_the_swapped_module_name():
    """bulk_transform.file_at_a_time_analysis points tfx's module-level TransformProcessor
    at a subclass while Transform's Do runs; Do must create it by that global name and
    the processor must make its TFXIO in _CreateTFXIO, or the analysis silently reads
    record by record again."""
    from tfx.components.transform import executor as tfx_transform

    from components.executors import bulk_transform

    assert "TransformProcessor" in tfx_transform.Executor.Do.__code__.co_names, (
        f"{TFX}: Transform's Do no longer creates TransformProcessor by its global name")
    assert "_CreateTFXIO" in tfx_transform.TransformProcessor.__dict__, (
        f"{TFX}: TransformProcessor no longer has _CreateTFXIO")
    callers = [name for name, f in vars(tfx_transform.TransformProcessor).items()
               if "_CreateTFXIO" in getattr(getattr(f, "__code__", None), "co_names", ())]
    assert callers, f"{TFX}: TransformProcessor no longer calls _CreateTFXIO"
    with bulk_transform.file_at_a_time_analysis():
        assert tfx_transform.TransformProcessor is bulk_transform.FileAtATimeProcessor
    assert tfx_transform.TransformProcessor is not bulk_transform.FileAtATimeProcessor


@pytest.mark.unit
def test_a_lost_beam_worker_fails_its_pending_and_later_instructions(monkeypatch):
    """lost_workers wraps ControlConnection._read and .push of Beam's FnApiRunner: a
    control stream that ends with an instruction unanswered must fail it (and any pushed
    later), where Beam alone waits forever; a stream that ends after every answer fails
    nothing."""
    import threading

    from apache_beam.portability.api import beam_fn_api_pb2
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    from pipelines.patches import lost_workers
    from pipelines.patches.lost_workers import fail_jobs_of_lost_workers

    fail_jobs_of_lost_workers()
    for name in ("_read", "push", "set_input"):
        assert name in vars(worker_handlers.ControlConnection), \
            f"{BEAM}: ControlConnection.{name} is gone; pipelines/patches/lost_workers.py"
    assert hasattr(worker_handlers.ControlConnection(), "_futures_by_id"), \
        f"{BEAM}: ControlConnection keeps no _futures_by_id; pipelines/patches/lost_workers.py"
    ended = threading.Event()

    def stream():  # the worker's answers: none, then it dies
        yield from ()
        ended.set()

    connection = worker_handlers.ControlConnection()
    pending = connection.push(beam_fn_api_pb2.InstructionRequest(instruction_id="a"))
    connection.set_input(stream())
    assert ended.wait(10)
    for _ in range(100):  # the reading thread ends just after the stream
        if pending.is_done():
            break
        threading.Event().wait(0.1)
    # answered with an error, as a failed instruction is: what the runner's wait checks
    assert pending.is_done() and "worker was lost" in pending.get(timeout=10).error
    later = connection.push(beam_fn_api_pb2.InstructionRequest(instruction_id="b"))
    assert later.is_done() and later.get(timeout=10).error

    monkeypatch.setattr(lost_workers, "CONNECT_SECONDS", 0.5)
    never = worker_handlers.ControlConnection()  # a worker killed before it connected
    waiting = never.push(beam_fn_api_pb2.InstructionRequest(instruction_id="d"))
    for _ in range(100):
        if waiting.is_done():
            break
        threading.Event().wait(0.1)
    assert "did not connect within 0.5 s" in waiting.get(timeout=10).error

    answered = worker_handlers.ControlConnection()
    future = answered.push(beam_fn_api_pb2.InstructionRequest(instruction_id="c"))
    answered.set_input(iter([beam_fn_api_pb2.InstructionResponse(instruction_id="c")]))
    assert future.get(timeout=10).instruction_id == "c"
