"""The one registry of frameworks: for each name a candidate may give as `framework:`,
its built-in network (a module written against the same public contract as a user's),
its adapter (what training and exporting a candidate means: trainers.frameworks) and
its flavor (how a pushed model is saved and loaded: serving.model_format.flavors).

The modules are named by dotted path and imported when asked for, so this bottom layer
imports none of them; adding a framework is one entry here plus its adapter and flavor.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str
    builtin_module: str  # the network a candidate without `module:` trains
    adapter_module: str  # train, check, export (trainers.frameworks)
    flavor_module: str  # save and load a pushed model (serving.model_format.flavors)

    def adapter(self):
        return importlib.import_module(self.adapter_module)

    def flavor(self):
        return importlib.import_module(self.flavor_module)


REGISTRY = {f.name: f for f in (
    Framework("keras", "trainers.builtin.keras_mlp", "trainers.frameworks.keras_adapter",
              "serving.model_format.flavors.keras_flavor"),
    Framework("torch", "trainers.builtin.torch_mlp", "trainers.frameworks.torch_adapter",
              "serving.model_format.flavors.torch_flavor"),
)}
FRAMEWORKS = tuple(REGISTRY)


def framework(name: str) -> Framework:
    if name not in REGISTRY:
        raise ValueError(f"unknown framework {name!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]
