"""A candidate's `tuning:` section: the search space over its hyperparameters and how
the tune_<candidate> step searches it (components.tune).

    tuning:
      space:
        learning_rate: {float: [0.001, 0.1], log: true}
        hidden_units: {choice: [[32, 16], [64, 32]]}
        embedding_dim: {int: [4, 16], step: 4}
      trials: 12
      pruner: median

Each parameter of the space is one of `int: [low, high]` (optional `log`, `step`),
`float: [low, high]` (optional `log`) or `choice: [values]`. The objective is the gate's
primary metric, in its direction, on a tuning split carved from the train split
(`fraction` of its rows); the eval rows the gate judges on are never seen.
Everything here is validated when the config loads, naming the key.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sluice_config.errors import ConfigError, did_you_mean

KINDS = ("int", "float", "choice")
PRUNERS = ("median", "none")
OPTIONS = {"int": {"log", "step"}, "float": {"log"}, "choice": set()}


@dataclass(frozen=True)
class Tuning:
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    trials: int = 10
    timeout: float = 0.0  # seconds for the whole search; 0: no limit (trials bound it)
    seed: int = 42  # the sampler's seed: the same config searches the same points
    # median: stop a trial whose objective at a report is worse than the median of the
    # earlier trials' at that step (after startup_trials complete); none: never prune
    pruner: str = "median"
    startup_trials: int = 2
    fraction: float = 0.2  # of the train split's rows: the tuning split
    steps: int = 0  # training steps per trial; 0: training.steps
    report_every: int = 0  # steps between the objective's reports; 0: a fifth of the steps
    workers: int = 1  # processes that run trials at once, sharing one study
    storage: str = ""  # Optuna's RDB URL for the study; empty: SQLite in the home

    def trial_steps(self, training_steps: int) -> int:
        return self.steps or training_steps

    def every(self, training_steps: int) -> int:
        return self.report_every or max(1, self.trial_steps(training_steps) // 5)


def parse(where: str, raw: Any) -> Tuning | None:
    """The `tuning:` mapping of a candidate -> Tuning, or ConfigError naming the key."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with space (and trials, pruner, ...).")
    allowed = [f.name for f in dataclasses.fields(Tuning)]
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key '{key}'.{did_you_mean(str(key), allowed)} "
                              f"Allowed: {', '.join(sorted(allowed))}.")
    space = raw.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}.space: expected a mapping of hyperparameter names to "
                          "{int: [low, high]}, {float: [low, high]} or {choice: [values]}.")
    for name, spec in space.items():
        check_parameter(f"{where}.space.{name}", spec)
    numbers = {"trials": int, "timeout": (int, float), "seed": int, "startup_trials": int,
               "fraction": (int, float), "steps": int, "report_every": int, "workers": int}
    for key, kind in numbers.items():
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], kind)):
            raise ConfigError(f"{where}.{key}: expected a number, got {raw[key]!r}.")
    tuning = Tuning(**raw)
    if tuning.trials < 1:
        raise ConfigError(f"{where}.trials: expected at least 1, got {tuning.trials}.")
    if not 0 < tuning.fraction < 1:
        raise ConfigError(f"{where}.fraction: the tuning split's share of the train rows, "
                          f"between 0 and 1 (exclusive); got {tuning.fraction}.")
    if tuning.workers < 1 or tuning.workers > tuning.trials:
        raise ConfigError(f"{where}.workers: expected 1 up to trials ({tuning.trials}), "
                          f"got {tuning.workers}.")
    if tuning.pruner not in PRUNERS:
        raise ConfigError(f"{where}.pruner: unknown pruner {tuning.pruner!r}."
                          f"{did_you_mean(tuning.pruner, PRUNERS)} Allowed: {', '.join(PRUNERS)}.")
    for key in ("timeout", "steps", "report_every", "startup_trials"):
        if getattr(tuning, key) < 0:
            raise ConfigError(f"{where}.{key}: expected 0 or more, got {getattr(tuning, key)}.")
    return tuning


def check_parameter(where: str, spec: Any) -> None:
    """One parameter of the space: exactly one kind, its bounds, its options."""
    kinds = [k for k in KINDS if isinstance(spec, dict) and k in spec]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: expected exactly one of {{int: [low, high]}}, "
                          f"{{float: [low, high]}} or {{choice: [values]}}, got {spec!r}.")
    kind = kinds[0]
    for key in spec:
        if key != kind and key not in OPTIONS[kind]:
            allowed = sorted(OPTIONS[kind]) or ["nothing else"]
            raise ConfigError(f"{where}: unknown option '{key}' for {kind}; allowed: "
                              f"{', '.join(allowed)}.")
    values = spec[kind]
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.choice: expected a list of values to try.")
        return
    number = int if kind == "int" else (int, float)
    if (not isinstance(values, list) or len(values) != 2
            or not all(isinstance(v, number) and not isinstance(v, bool) for v in values)):
        raise ConfigError(f"{where}.{kind}: expected [low, high], two {kind}s; got {values!r}.")
    low, high = values
    if not low < high:
        raise ConfigError(f"{where}.{kind}: low ({low}) must be below high ({high}).")
    if spec.get("log") and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0 (got {low}).")
    if not isinstance(spec.get("log", False), bool):
        raise ConfigError(f"{where}.log: expected true or false, got {spec['log']!r}.")
    if spec.get("log") and spec.get("step"):
        raise ConfigError(f"{where}: give log or step, not both (Optuna samples one or the other).")


def suggest(trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One point of the space, asked of an Optuna trial: {name: value}."""
    point = {}
    for name, spec in space.items():
        if "choice" in spec:
            # Optuna's categorical choices are scalars; a list (hidden_units) is chosen by
            # its index and stored as the value itself.
            options = spec["choice"]
            if all(o is None or isinstance(o, (bool, int, float, str)) for o in options):
                point[name] = trial.suggest_categorical(name, options)
            else:
                point[name] = options[trial.suggest_categorical(name, list(range(len(options))))]
        elif "int" in spec:
            low, high = spec["int"]
            point[name] = trial.suggest_int(name, low, high, step=spec.get("step") or 1,
                                            log=bool(spec.get("log")))
        else:
            low, high = spec["float"]
            point[name] = trial.suggest_float(name, float(low), float(high), log=bool(spec.get("log")))
    return point

