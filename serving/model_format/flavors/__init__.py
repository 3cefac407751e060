"""How a pushed model of each framework is loaded and called, one flavor per framework
(as MLflow's flavors own their load_model): the model's sluice.json names its
framework, and ServableModel asks that flavor. Each flavor gives the raw feature spec
its inputs are packed by, the TensorFlow part of a prediction (raw columns in) and
the rest (that part's outputs in, probabilities out)."""
from __future__ import annotations

import importlib

from sluice_config.frameworks import framework as registered


def flavor(framework: str):
    """The flavor module of a framework named in the registry (sluice_config.frameworks)."""
    return registered(framework).flavor()


def preload(framework: str) -> None:
    """Imports what loading a model of this framework imports, ahead of the first load."""
    from serving.model_format import keras2  # noqa: F401  (the Keras 2 switch, before TensorFlow)

    for module in flavor(framework).IMPORTS:
        importlib.import_module(module)
