"""The user's own modules travel with the Beam job, for workers that cannot import them.

A step's Beam DoFns may hold the user's code: TFT's analysis pickles the user's
preprocessing_fn with it (the portable runner failed with "No module named 'features'" in
a worker pool started from another folder: tensorflow/tfx#4948). Beam pickles a function
by reference when its module is importable where the pipeline is built, and a worker on
another host, or in another folder, has sluice and its libraries installed but not the
user's project. Here the user's modules (the module of the function and the local modules
it imports, sluice_config.sources) are registered with Beam's cloudpickle to be pickled by
value: their code goes inside the job, whatever the runner, with no shared folder or
PYTHONPATH. sluice's own packages are installed on every worker and stay by reference.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from apache_beam.internal.cloudpickle import cloudpickle

from sluice_config import sources
from sluice_config.packages import code_packages

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # its packages are installed on every worker


def user_modules(dotted: str) -> list[str]:
    """The names of the user's modules behind a function's dotted path: its module and
    the local modules it imports, sluice's own left out."""
    module = dotted.rpartition(".")[0]
    importlib.import_module(module)
    files = {str(Path(p).resolve()) for p in sources.module_sources(module)}
    sluice_packages = code_packages(PROJECT_ROOT)
    found = []
    for name, loaded in list(sys.modules.items()):
        path = getattr(loaded, "__file__", None)
        if path and str(Path(path).resolve()) in files and name.split(".")[0] not in sluice_packages:
            found.append(name)
    return sorted(found)


def ship_by_value(dotted: str | None) -> list[str]:
    """Registers the user's modules behind a function to be pickled by value; returns
    their names."""
    if not dotted:
        return []
    names = user_modules(dotted)
    for name in names:
        cloudpickle.register_pickle_by_value(sys.modules[name])
    return names
