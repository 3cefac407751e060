"""--runner portable without a cluster: the arguments it sets, the check that stops a run
before Beam starts (exit 2 within seconds, naming the address and how to start the local
cluster), the names the steps' Beam jobs get, and the user's modules that travel with
the job by value. The cluster itself: tests/test_portable_cluster.py."""
import argparse
import socket
import time

import pytest

from components.recording import beam_jobs
from pipelines.run import portable_cluster
from serving.server.process import free_port  # a port nothing listens on
from sluice_config.errors import ConfigError
from tests.conftest import run_sluice


def parsed(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--beam-arg", action="append", default=[])
    portable_cluster.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.unit
def test_portable_names_the_job_server_and_the_external_workers():
    args = portable_cluster.from_arguments(parsed("--runner", "portable", "--job-endpoint", "h:8099",
                                                  "--beam-arg=--max_num_workers=4"))
    assert args == ("--runner=PortableRunner", "--job_endpoint=h:8099", "--environment_type=EXTERNAL",
                    "--environment_config=localhost:50000", "--max_num_workers=4")
    assert portable_cluster.from_arguments(parsed("--beam-arg=--runner=DirectRunner")) == ("--runner=DirectRunner",)


@pytest.mark.unit
@pytest.mark.parametrize("argv, words", [
    (("--runner", "portable"), "needs --job-endpoint"),
    (("--job-endpoint", "h:1"), "is for --runner portable"),
    (("--runner", "portable", "--job-endpoint", "h:1", "--beam-arg=--runner=FlinkRunner"), "keep one"),
])
def test_contradictory_runner_options_are_refused(argv, words):
    with pytest.raises(ConfigError, match=words):
        portable_cluster.from_arguments(parsed(*argv))


@pytest.mark.unit
def test_a_cluster_that_is_not_there_is_named_with_how_to_start_one():
    port = free_port()
    with pytest.raises(ConfigError) as err:
        portable_cluster.check(portable_cluster.beam_args(f"localhost:{port}"))
    assert f"no Beam job server answers at localhost:{port}" in str(err.value)
    assert "bash scripts/beam_cluster.sh up" in str(err.value)
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        portable_cluster.check(portable_cluster.beam_args("nohost"))
    portable_cluster.check(("--runner=FnApiRunner",))  # no job server named: nothing to ask


@pytest.mark.unit
def test_a_worker_pool_on_this_machine_is_asked_too():
    with socket.socket() as server:  # a job server that accepts; no worker pool
        server.bind(("127.0.0.1", 0))
        server.listen()
        endpoint = f"127.0.0.1:{server.getsockname()[1]}"
        pool = free_port()
        with pytest.raises(ConfigError, match=f"no Beam worker pool answers at localhost:{pool}"):
            portable_cluster.check(portable_cluster.beam_args(endpoint, f"localhost:{pool}"))
        # a pool on other hosts is reached by their workers, not from here
        portable_cluster.check(portable_cluster.beam_args(endpoint, "worker-host:50000"))


@pytest.mark.component
@pytest.mark.parametrize("command", ["run", "predict"])
def test_the_command_stops_before_beam_with_exit_2(command, tmp_path):
    port = free_port()
    extra = ["--data", tmp_path / "x.csv", "-o", tmp_path / "out.csv"] if command == "predict" else []
    started = time.monotonic()
    result = run_sluice(command, "--home", tmp_path / "home", "--runner", "portable",
                        "--job-endpoint", f"localhost:{port}", *extra, timeout=60)
    assert result.returncode == 2
    assert time.monotonic() - started < 30  # seconds, never a hang (most of it is Python's start)
    assert f"localhost:{port}" in result.stderr and "scripts/beam_cluster.sh up" in result.stderr
    assert not (tmp_path / "home" / "pipeline_root").exists()


@pytest.mark.unit
def test_each_step_names_its_jobs_only_on_a_job_server():
    local = ["--runner=FnApiRunner"]
    assert beam_jobs.name_jobs(local, "Transform") == (local, None)
    portable = list(portable_cluster.beam_args("h:1"))
    args, name = beam_jobs.name_jobs(portable, "Transform")
    assert name.startswith("sluice-transform-") and args == [*portable, f"--job_name={name}"]
    assert beam_jobs.name_jobs(portable, "Transform") != (args, name)  # every run its own name
    named = [*portable, "--job_name=mine"]
    assert beam_jobs.name_jobs(named, "Transform") == (named, None)  # the user's name stays


@pytest.mark.unit
def test_the_users_modules_are_shipped_by_value_and_sluices_are_not(tmp_path, monkeypatch):
    import pickle
    import sys

    from apache_beam.internal.cloudpickle import cloudpickle

    from components.executors import user_code

    (tmp_path / "shipped_features").mkdir()
    (tmp_path / "shipped_features" / "__init__.py").write_text("")
    (tmp_path / "shipped_features" / "helpers.py").write_text("OFFSET = 3\n")
    (tmp_path / "shipped_prep.py").write_text(
        "from shipped_features.helpers import OFFSET\n"
        "from trainers.builtin.default_preprocessing import fill_in_missing\n\n"
        "def preprocessing_fn(inputs, custom_config):\n    return inputs + OFFSET\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = user_code.ship_by_value("shipped_prep.preprocessing_fn")
    try:
        assert names == ["shipped_features.helpers", "shipped_prep"]
        blob = cloudpickle.dumps(sys.modules["shipped_prep"].preprocessing_fn)
    finally:
        for name in names:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])
    for name in names:  # a worker that cannot import them
        del sys.modules[name]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    assert pickle.loads(blob)(1, None) == 4
