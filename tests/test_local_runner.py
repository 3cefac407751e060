"""How the local runner chooses Beam's mode: the user's --beam-arg always wins; small
inputs run in memory, large ones on every core."""
import os

import pytest

from pipelines.runners.local import IN_MEMORY_BEAM, LARGE_INPUT_ROWS, local_beam_args

pytestmark = pytest.mark.unit


def test_small_inputs_run_in_memory_and_large_ones_on_every_core():
    assert local_beam_args(15_002) == IN_MEMORY_BEAM
    assert local_beam_args(LARGE_INPUT_ROWS) == (
        "--direct_running_mode=multi_processing", f"--direct_num_workers={os.cpu_count()}")


def test_the_users_beam_args_always_win():
    given = ["--runner=DataflowRunner", "--project=p"]
    assert local_beam_args(10, given) == tuple(given)
    assert local_beam_args(10 * LARGE_INPUT_ROWS, given) == tuple(given)
