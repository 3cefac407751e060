"""How the local runner chooses Beam's mode: the user's --beam-arg always wins; small
inputs run in memory, large ones on every core of a machine with cores to spare."""
import os

import pytest

from pipelines.run.beam_args import (
    IN_MEMORY_BEAM,
    LARGE_INPUT_ROWS,
    LOCAL_RUNNER,
    MIN_CORES_FOR_WORKERS,
    local_beam_args,
)

pytestmark = pytest.mark.unit


def test_small_inputs_run_in_memory_and_large_ones_on_every_core():
    assert local_beam_args(15_002, cores=16) == IN_MEMORY_BEAM
    assert local_beam_args(LARGE_INPUT_ROWS, cores=16) == (
        LOCAL_RUNNER, "--direct_running_mode=multi_processing", "--direct_num_workers=16")
    assert local_beam_args(LARGE_INPUT_ROWS) == (IN_MEMORY_BEAM if os.cpu_count() < MIN_CORES_FOR_WORKERS
                                                 else (LOCAL_RUNNER, "--direct_running_mode=multi_processing",
                                                       f"--direct_num_workers={os.cpu_count()}"))


def test_two_cores_stay_in_memory_whatever_the_input():
    assert local_beam_args(100 * LARGE_INPUT_ROWS, cores=2) == IN_MEMORY_BEAM


def test_the_users_beam_args_always_win():
    given = ["--runner=DataflowRunner", "--project=p"]
    assert local_beam_args(10, given) == tuple(given)
    assert local_beam_args(10 * LARGE_INPUT_ROWS, given) == tuple(given)


def test_every_pipeline_names_its_runner():
    """Beam's default DirectRunner tries Prism first (a download) where the user named no
    runner; sluice names the FnApiRunner, and keeps a runner the user named."""
    assert local_beam_args(10)[0] == LOCAL_RUNNER == "--runner=FnApiRunner"
    assert local_beam_args(10, ["--direct_num_workers=2"]) == (LOCAL_RUNNER, "--direct_num_workers=2")

