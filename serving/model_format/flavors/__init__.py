"""How a pushed model of each framework is loaded and called, one flavor per framework
(as MLflow's flavors own their load_model): the model's sluice.json names its
framework, and ServableModel asks that flavor. Each flavor gives the raw feature spec
its inputs are packed by, the TensorFlow part of a prediction (raw columns in) and
the rest (that part's outputs in, probabilities out)."""
from __future__ import annotations

import importlib

FLAVORS = {"keras": "serving.model_format.flavors.keras_flavor",
           "torch": "serving.model_format.flavors.torch_flavor"}


def flavor(framework: str):
    if framework not in FLAVORS:
        raise ValueError(f"no serving flavor for framework {framework!r} (known: {', '.join(FLAVORS)})")
    return importlib.import_module(FLAVORS[framework])
