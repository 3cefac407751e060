"""Any number of candidates into one step: infra_validate and push take each
candidate's model and blessing as optional inputs model_1, blessing_1, ...,
model_8, blessing_8, wired in the config's order (the blessing names its candidate).

Why slots, not one input per candidate name: TFX's decorated components declare their
inputs once, at import (a Kubeflow container imports the same step class by name),
and Kubeflow's compiler takes no union of channels; a fixed set of optional inputs
compiles everywhere, and a pipeline wires only the slots it uses.
"""
from __future__ import annotations

import inspect

from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.types.standard_artifacts import Model, ModelBlessing

MAX_CANDIDATES = 8


def _slot(i: int) -> tuple[str, str]:
    return f"model_{i}", f"blessing_{i}"


def with_candidate_slots(function):
    """Declares the slots on function(..., **candidates) for TFX's @component, which
    reads the signature and annotations: apply it under @component."""
    signature = inspect.signature(function)
    fixed = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    slots = []
    for i in range(1, MAX_CANDIDATES + 1):
        for name, kind in zip(_slot(i), (Model, ModelBlessing)):
            slots.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
            function.__annotations__[name] = InputArtifact[kind]
    function.__signature__ = signature.replace(parameters=fixed + slots)
    return function


def wire(channels: list[tuple[object, object]]) -> dict[str, object]:
    """[(model channel, blessing channel)] in the config's order -> the step's inputs."""
    if len(channels) > MAX_CANDIDATES:
        raise ValueError(f"{len(channels)} candidates; a pipeline takes at most {MAX_CANDIDATES}.")
    wired = {}
    for i, (model, blessing) in enumerate(channels, 1):
        model_slot, blessing_slot = _slot(i)
        wired[model_slot], wired[blessing_slot] = model, blessing
    return wired


def unpack(candidates: dict) -> list[tuple[object, object]]:
    """The step's slot inputs -> [(model artifact, blessing artifact)] of wired slots."""
    pairs = []
    for i in range(1, MAX_CANDIDATES + 1):
        model_slot, blessing_slot = _slot(i)
        if candidates.get(blessing_slot) is not None:
            pairs.append((candidates.get(model_slot), candidates[blessing_slot]))
    return pairs
