"""The Beam pipeline arguments of a data step on this machine (the pipeline's data steps
and `sluice predict` alike), chosen from the input's size and the machine's cores."""
from __future__ import annotations

import os

# Every pipeline names its runner. Beam 2.74's default DirectRunner first tries to download
# and start the Prism runner (on every pipeline; ~1 s where the download fails, another
# engine where it works), then falls back to the FnApiRunner: the runner named here, the
# one every test ran. It reads the --direct_* options as the DirectRunner does.
LOCAL_RUNNER = "--runner=FnApiRunner"
IN_MEMORY_BEAM = (LOCAL_RUNNER, "--direct_running_mode=in_memory", "--direct_num_workers=1")
# From here on the data steps use every core, where there are cores to spare. On 2 cores
# it does not pay: bench/scale.py at 1M rows with the columnar ExampleGen and the bulk
# Transform, multi_processing took 186.7 s / 4.36 GB against in_memory's 203.7 s /
# 2.14 GB (process tree): 8% faster for twice the memory, as each worker loads its own
# TensorFlow. multi_threading (2 threads) did not pay either: 122.3 s / 2.46 GB against
# in_memory's 119.3 s / 2.15 GB, the bulk steps being mostly held by the GIL. 4 cores
# and more are not measured here. --beam-arg overrides it.
LARGE_INPUT_ROWS = 500_000
MIN_CORES_FOR_WORKERS = 4


def local_beam_args(rows: int, given=(), cores: int | None = None) -> tuple[str, ...]:
    """The user's --beam-arg always wins (with the local runner named where they name
    none). Otherwise in_memory for small inputs (no worker processes to start) and on 2
    cores, and multi_processing with one worker per core for large inputs on a larger
    machine."""
    if given:
        return named(given)
    cores = cores or os.cpu_count() or 1
    if rows >= LARGE_INPUT_ROWS and cores >= MIN_CORES_FOR_WORKERS:
        return (LOCAL_RUNNER, "--direct_running_mode=multi_processing", f"--direct_num_workers={cores}")
    return IN_MEMORY_BEAM


def named(beam_args) -> tuple[str, ...]:
    """beam_args with the local runner first where they name no runner."""
    beam_args = tuple(beam_args)
    return beam_args if any(a.startswith("--runner") for a in beam_args) else (LOCAL_RUNNER, *beam_args)
