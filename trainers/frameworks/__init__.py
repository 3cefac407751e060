"""One adapter per framework: what training, checking and exporting a candidate of
that framework means. The DAG asks adapter(framework).RUN_FN for the Trainer's
entry point; nothing else outside the adapters (and the config's defaults, and the
serving flavors that load what they export) knows a framework by name.
"""
from __future__ import annotations

import importlib

ADAPTERS = {"keras": "trainers.frameworks.keras_adapter", "torch": "trainers.frameworks.torch_adapter"}


def run_fn(framework: str) -> str:
    """The dotted run_fn TFX's Trainer calls for a candidate of this framework."""
    return f"{ADAPTERS[framework]}.run_fn"


def adapter(framework: str):
    return importlib.import_module(ADAPTERS[framework])
