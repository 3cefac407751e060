"""Shared test fixtures: small samples of the bundled data, and a way to run the real
`sluice` CLI in a subprocess the way a user would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.patches.quiet import configure_environment

configure_environment()  # before any test module imports TensorFlow

ROOT = Path(__file__).resolve().parent.parent
TAXI_CSV = ROOT / "data" / "taxi" / "data.csv"
SLUICE = Path(sys.executable).parent / "sluice"


TIERS = ("unit", "component", "e2e")


def pytest_collection_modifyitems(items):
    """Every test declares its tier, so it runs in the right make target. The slowest
    tier goes first, so parallel workers (`make test`) start the long files at once
    instead of ending on them."""
    untiered = [item.nodeid for item in items
                if sum(item.get_closest_marker(t) is not None for t in TIERS) != 1]
    if untiered:
        raise pytest.UsageError(f"tests without exactly one tier marker {TIERS}: {untiered}")
    items.sort(key=lambda item: [item.get_closest_marker(t) is not None for t in TIERS[::-1]],
               reverse=True)


def head_csv(source: Path, target: Path, rows: int) -> Path:
    lines = source.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[: rows + 1]))
    return target


@pytest.fixture(scope="session")
def taxi_sample(tmp_path_factory) -> Path:
    """The first 2,000 rows of the taxi data."""
    return head_csv(TAXI_CSV, tmp_path_factory.mktemp("data") / "taxi.csv", 2000)


def raw_rows(csv: Path, n: int, names) -> dict:
    """The first n rows of a CSV, these columns, as the model server receives them."""
    import pandas as pd

    frame = pd.read_csv(csv).head(n)
    return {c: [None if pd.isna(v) else v for v in frame[c]] for c in names}


def sluice_env() -> dict:
    """The environment of a `sluice` subprocess: unbuffered, and without the
    MLFLOW_TRACKING_URI that mlflow.set_tracking_uri in this process exports, so each
    run writes to its own home's store."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_sluice(*args, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(SLUICE), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=sluice_env(), cwd=ROOT)
    print(result.stdout[-4000:], result.stderr[-8000:])
    return result


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    """The real pipeline run up to Transform on 300 taxi rows, in-process (-> config,
    and the ExampleGen, Transform examples and Transform graph folders): the stored
    upstream outputs of the component tests."""
    from tfx.orchestration.pipeline import RunOptions

    from pipelines.definition.dag import create_pipeline
    from pipelines.definition.home_layout import Paths
    from pipelines.run.beam_args import IN_MEMORY_BEAM
    from pipelines.runners.local import named_runner
    from sluice_config import config as config_module

    home = tmp_path_factory.mktemp("upstream")
    data = head_csv(TAXI_CSV, home / "taxi.csv", 300)
    config = config_module.load("taxi").replace(data=data)
    pipeline = create_pipeline(config, Paths(home), ("keras",), IN_MEMORY_BEAM)
    named_runner("upstream").run(pipeline, run_options=RunOptions(to_nodes=["Transform"]))

    def newest(step: str, output: str) -> Path:
        return max((home / "pipeline_root" / step / output).iterdir(), key=lambda p: int(p.name))

    return (config, newest("CsvExampleGen", "examples"), newest("Transform", "transformed_examples"),
            newest("Transform", "transform_graph"))


@pytest.fixture(scope="session")
def first_run(tmp_path_factory, taxi_sample):
    """One real pipeline run with both trainers on the sample, shared by the end-to-end
    and serving tests (-> home folder, CompletedProcess)."""
    home = tmp_path_factory.mktemp("home")
    result = run_sluice("run", "--home", home, "--data", taxi_sample, "--steps", 60, "--trainer", "both")
    return home, result


@pytest.fixture
def browser():
    """Headless Chromium (Debian's package, installed when missing), driven over CDP."""
    from tests.browser import Browser, ensure_chromium

    browser = Browser(ensure_chromium())
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def shared_mlflow_server(tmp_path_factory):
    """`mlflow server` backed by PostgreSQL on loopback, as a team shares one (-> URL);
    one per test module, so each module's assertions see only its own runs."""
    from serving.server.process import free_port, wait_until_up
    from tests.postgres import PostgresCluster

    cluster = PostgresCluster()
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    port = free_port()
    bin_dir = Path(sys.executable).parent
    process = subprocess.Popen(
        [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", cluster.create_database("mlflow"),
         "--artifacts-destination", str(artifacts), "--workers", "2"],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health", process, timeout=180)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        cluster.stop()
