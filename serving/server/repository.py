"""The models a server holds, under TF Serving's default version policy.

Each folder of the serving dir is a model; its newest complete version (serving.model_format.push_target
marks complete ones) is the one served. A newer version, or an older one after a
rollback or removal, is loaded off the request path, answers a warm-up request, and
only then replaces the served one; until then the old version keeps serving, so a swap
fails no request. A version that fails to load is reported in the model's status and
not retried (push a fixed version, or restart the server). Only folders found by scanning the serving dir
are ever loaded, never a path taken from a request.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serving.model_format import push_target
from serving.model_format.model import ServableModel
from serving.server import frozen_heap

log = logging.getLogger("sluice.serving")


@dataclass(frozen=True, eq=False)
class LoadedVersion:
    name: str
    version: int
    model: ServableModel


@dataclass
class ModelState:
    """What the status endpoint reports for one model."""

    served: LoadedVersion | None = None
    loading: int | None = None
    failed: dict[int, str] = field(default_factory=dict)  # version -> error


def warm_up(model: ServableModel) -> None:
    """One valid row: traces the graph and proves the model answers."""
    probs = model.predict({name: [value] for name, value in model.layout.example_row().items()})
    if probs.shape != (1, model.layout.output_width) or not np.all(np.isfinite(probs)):
        raise RuntimeError(f"warm-up answer has shape {probs.shape} or is not finite")


class ModelRepository:
    def __init__(self, serving_dir: str | Path):
        self.serving_dir = Path(serving_dir)
        self.states: dict[str, ModelState] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self._dropped = False  # a version was replaced or removed since the last refresh

    def served(self, name: str) -> LoadedVersion | None:
        state = self.states.get(name)
        return state.served if state else None

    def desired_versions(self) -> dict[str, int]:
        """Model name -> newest complete version, from the folder as it is now."""
        if not self.serving_dir.is_dir():
            return {}
        found = {}
        for model_dir in sorted(self.serving_dir.iterdir()):
            if model_dir.is_dir() and not model_dir.name.startswith("."):
                versions = push_target.versions(self.serving_dir, model_dir.name)
                if versions:
                    found[model_dir.name] = versions[-1]
        return found

    def refresh(self) -> None:
        """Brings served versions in line with the folder. Blocking: run it off the
        event loop. Requests keep using the previous version until the swap."""
        with self._lock:
            if self._dropped:  # one look later: the requests that held them are answered
                self._dropped = False
                frozen_heap.collect_unloaded()
            desired = self.desired_versions()
            for name in list(self.states):
                if name not in desired:
                    log.info("model %s: no versions left, unloading", name)
                    del self.states[name]
                    self._dropped = True
            for name, version in desired.items():
                state = self.states.setdefault(name, ModelState())
                current = state.served.version if state.served else None
                if version == current or version in state.failed:
                    continue
                self._load(name, version, state)

    def _load(self, name: str, version: int, state: ModelState) -> None:
        state.loading = version
        try:
            model = ServableModel(self.serving_dir / name / str(version))
            warm_up(model)
        except Exception as err:  # a broken version must not take the server down
            state.failed[version] = f"{type(err).__name__}: {err}"
            log.error("model %s version %s failed to load: %s", name, version, err)
        else:
            previous = state.served
            state.served = LoadedVersion(name, version, model)
            self._dropped = self._dropped or previous is not None
            frozen_heap.freeze_loaded()
            log.info("model %s: serving version %s%s", name, version,
                     f" (was {previous.version})" if previous else "")
        finally:
            state.loading = None
