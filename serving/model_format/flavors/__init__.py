"""How a pushed model of each framework is loaded and called, one flavor per framework
(as MLflow's flavors own their load_model): the model's sluice.json names its
framework, and ServableModel asks that flavor. Each flavor gives the raw feature spec
its inputs are packed by, the TensorFlow part of a prediction (raw columns in) and
the rest (that part's outputs in, probabilities out)."""
from __future__ import annotations

from sluice_config.frameworks import framework as registered


def flavor(framework: str):
    """The flavor module of a framework named in the registry (sluice_config.frameworks)."""
    return registered(framework).flavor()
