"""The trainer-module contract, checked before Beam starts and at each use.

A candidate's module (the config's `candidates.<name>.module`) defines either

- `build_model(features, hparams)`: sluice does the plumbing (batches, the loop,
  distribution, export); `features` is the FeatureLayout of the transform's outputs
  (serving.model_format.layout) and `hparams` the candidate's hyperparameters; optional
  hooks: `loss` and `optimizer` (trainers.frameworks says what each framework expects);
- or `run_fn(fn_args)`: TFX's own full-control entry point, for a module that trains
  and exports by itself with sluice's helpers (trainers.frameworks.<framework>.export).

A module that breaks the contract in use (a wrong output shape, a NaN loss, an export
that fails) raises TrainerModuleError, which names the module and the function; the
adapter records it as the candidate's failure instead of failing the run, so the
other candidates go on and this one is never blessed.
"""
from __future__ import annotations

import importlib
import inspect
import json
import traceback
from pathlib import Path
from types import ModuleType

from sluice_config import sources
from sluice_config.config import Candidate, PipelineConfig
from sluice_config.errors import ConfigError

ENTRY_POINTS = ("build_model", "run_fn")
FAILURE_FILE = "TRAINING_FAILED.json"  # in the candidate's model dir, instead of a model
CANDIDATE_KEY = "sluice_candidate"  # the custom_config key naming the candidate trained


class TrainerModuleError(RuntimeError):
    """A trainer module broke the contract while training; the message says where."""


def load(candidate: Candidate) -> ModuleType:
    """Imports the candidate's module and checks that it defines an entry point, or
    ConfigError says what is wrong (the import's own error, with its file and line)."""
    where = f"candidates.{candidate.name}.module"
    try:
        module = importlib.import_module(candidate.module_name)
    except SyntaxError as err:
        raise ConfigError(f"{where}: {candidate.module_name} has a syntax error: {err.msg} "
                          f"({err.filename}, line {err.lineno}, column {err.offset}).") from None
    except ImportError as err:
        raise ConfigError(f"{where}: cannot import {candidate.module_name!r}: {err}. A module "
                          "beside the config file, or on PYTHONPATH, is importable.") from None
    except Exception as err:  # the module's own code failed at import
        last = traceback.extract_tb(err.__traceback__)[-1]
        raise ConfigError(f"{where}: importing {candidate.module_name} failed: "
                          f"{type(err).__name__}: {err} ({last.filename}, line {last.lineno}).") from None
    found = [name for name in ENTRY_POINTS if callable(getattr(module, name, None))]
    if not found:
        raise ConfigError(f"{where}: {candidate.module_name} ({module.__file__}) defines neither "
                          "build_model(features, hparams) nor run_fn(fn_args); see docs/your-model.md.")
    expected = {"build_model": 2, "run_fn": 1}[found[0]]
    try:
        parameters = inspect.signature(getattr(module, found[0])).parameters
    except (TypeError, ValueError):
        return module
    if len(parameters) != expected:
        raise ConfigError(f"{where}: {candidate.module_name}.{found[0]} takes "
                          f"{len(parameters)} arguments ({', '.join(parameters)}); the contract "
                          f"is {found[0]}({'features, hparams' if expected == 2 else 'fn_args'}).")
    return module


def check_all(config: PipelineConfig) -> None:
    """Every candidate's module, before the pipeline is built (and Beam starts)."""
    if config.source is not None:
        sources.on_import_path(config.source.parent)
    for candidate in config.candidates:
        module = load(candidate)
        if candidate.tuning is not None and not hasattr(module, "build_model"):
            raise ConfigError(f"candidates.{candidate.name}.tuning: {candidate.module_name} trains by its own "
                              "run_fn(fn_args); tuning trains trials through build_model(features, hparams), "
                              "so a run_fn module cannot be tuned (see docs/tuning.md).")


def custom_config(config: PipelineConfig, candidate: Candidate) -> dict:
    """The Trainer's custom_config: the pipeline config with this candidate alone (so
    which others a run trains, `--trainer`, leaves its cache key as it was) and its name."""
    return {**config.replace(candidates=(candidate,)).to_dict(), CANDIDATE_KEY: candidate.name}


def candidate_of(fn_args) -> tuple[PipelineConfig, Candidate]:
    return from_custom_config(fn_args.custom_config)


def from_custom_config(custom: dict) -> tuple[PipelineConfig, Candidate]:
    """The config and the candidate custom_config(config, candidate) describes."""
    raw = dict(custom)
    name = raw.pop(CANDIDATE_KEY)
    config = PipelineConfig.from_custom_config(raw)
    if config.source is not None:
        sources.on_import_path(config.source.parent)
    return config, config.candidate(name)


def where(candidate: Candidate, function: str) -> str:
    return f"{candidate.module_name}.{function} (candidate {candidate.name})"


def record_failure(serving_model_dir: str, candidate: Candidate, err: TrainerModuleError) -> None:
    """The candidate's model dir holds its failure instead of a model: evaluate does not
    bless it, push cannot push it, and the record shows why."""
    out = Path(serving_model_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / FAILURE_FILE).write_text(json.dumps(
        {"candidate": candidate.name, "framework": candidate.framework,
         "module": candidate.module_name, "error": str(err)}, indent=2))


def read_failure(model_dir: str | Path) -> dict | None:
    path = Path(model_dir, FAILURE_FILE)
    return json.loads(path.read_text()) if path.exists() else None
