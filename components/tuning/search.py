"""The search: one Optuna study per tune step, its trials run by `workers` processes
that share the study through its RDB storage (SQLite in the home by default).

A trial asks the study for a point of the space, trains the candidate with it by the
candidate's framework adapter (trainers.frameworks.run_trial) on the tuning split's
train rows, and reports the gate's primary metric on the tuning rows every few steps;
the pruner may stop it there. A trial whose module breaks the contract fails alone.
A point already tried (a discrete space sampled twice) is not trained again: the trial
is pruned at once and marked a repeat.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import time
from dataclasses import dataclass

import numpy as np

from components.gates import metrics
from sluice_config import sources
from sluice_config.config import LOWER_IS_BETTER, PipelineConfig

log = logging.getLogger("sluice")
REPEAT = "repeat_of"  # a trial's user attribute: the trial whose point it drew again
SQLITE_TIMEOUT_S = 60  # workers wait this long for the SQLite study's lock


@dataclass(frozen=True)
class Search:
    """What every worker process needs to join the study (picklable: it crosses to
    spawned processes)."""

    config: PipelineConfig  # with the tuned candidate alone
    candidate: str
    transform_output: str
    train_files: tuple[str, ...]
    storage: str
    study_name: str

    @property
    def tuning(self):
        return self.config.candidate(self.candidate).tuning

    @property
    def metric(self) -> str:
        return self.config.gate.primary_metric

    @property
    def direction(self) -> str:
        return "minimize" if self.metric in LOWER_IS_BETTER else "maximize"


def storage(url: str):
    """Optuna's RDB storage; SQLite waits for its lock instead of failing at once."""
    import optuna

    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def run(search: Search):
    """Creates the study, runs its trials here and in workers - 1 spawned processes,
    and returns it (loaded again, with every worker's trials)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the step log says what it did
    optuna.create_study(study_name=search.study_name, storage=storage(search.storage),
                        direction=search.direction)
    workers = search.tuning.workers
    shares = [search.tuning.trials // workers + (rank < search.tuning.trials % workers)
              for rank in range(workers)]
    context = multiprocessing.get_context("spawn")
    others = [context.Process(target=worker, args=(search, rank, shares[rank]), daemon=True)
              for rank in range(1, workers)]
    for process in others:
        process.start()
    worker(search, 0, shares[0])
    for process in others:
        process.join()
    failed = [p.exitcode for p in others if p.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} of the tuning worker processes exited with "
                           f"{failed}; their trials are in the study {search.study_name}.")
    return optuna.load_study(study_name=search.study_name, storage=storage(search.storage))


def worker(search: Search, rank: int, trials: int) -> None:
    """One process's share of the trials (its sampler seeded by seed + rank, so the
    workers do not walk the same points)."""
    import optuna
    import tensorflow_transform as tft

    from trainers import module_contract
    from trainers.batches import tuning_split
    from trainers.data import feature_layout

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if search.config.source is not None:
        sources.on_import_path(search.config.source.parent)
    tuning = search.tuning
    candidate = search.config.candidate(search.candidate)
    transform_output = tft.TFTransformOutput(search.transform_output)
    layout = feature_layout(search.config, transform_output, candidate)
    split = tuning_split(list(search.train_files), transform_output, layout, search.config.training,
                         tuning.fraction, tuning.seed)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=tuning.startup_trials)
              if tuning.pruner == "median" else optuna.pruners.NopPruner())
    study = optuna.load_study(study_name=search.study_name, storage=storage(search.storage),
                              sampler=optuna.samplers.TPESampler(seed=tuning.seed + rank),
                              pruner=pruner)
    study.optimize(lambda trial: objective(trial, search, split), n_trials=trials,
                   timeout=tuning.timeout or None,
                   catch=(module_contract.TrainerModuleError,))


def objective(trial, search: Search, split) -> float:
    """Trains one point and returns its last reported objective."""
    import optuna

    from sluice_config.tuning import suggest
    from trainers import frameworks, module_contract

    config, tuning = search.config, search.tuning
    candidate = config.candidate(search.candidate)
    point = suggest(trial, tuning.space)
    earlier = repeat_of(trial)
    if earlier is not None:
        trial.set_user_attr(REPEAT, earlier)
        raise optuna.TrialPruned(f"the point of trial {earlier}, drawn again")
    trial.set_user_attr("point", point)
    labels = split.tuning[1]
    last = {}

    def report(step: int, predictions: np.ndarray) -> None:
        if not np.all(np.isfinite(predictions)):
            raise module_contract.TrainerModuleError(
                f"{module_contract.where(candidate, 'build_model')}: the model's answers on the "
                f"tuning rows are not finite at step {step} (with {point}).")
        value = metrics.compute(labels, predictions)[search.metric]
        last["value"] = value
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"{search.metric} {value:.4f} at step {step}")

    hparams = {**candidate.hparams(config.training), **point}
    steps = tuning.trial_steps(config.training.steps)
    started = time.time()
    try:
        frameworks.run_trial(candidate.framework, config, candidate, hparams, search.transform_output,
                             split, steps, tuning.every(config.training.steps), report)
    except module_contract.TrainerModuleError as err:
        trial.set_user_attr("error", str(err)[:2000])
        log.warning("tuning %s: trial %d failed: %s", candidate.name, trial.number, err)
        raise
    finally:
        trial.set_user_attr("train_seconds", round(time.time() - started, 3))
    value = last.get("value", math.nan)
    if not math.isfinite(value):
        raise module_contract.TrainerModuleError(f"trial {trial.number}: no finite {search.metric}.")
    return value


def repeat_of(trial) -> int | None:
    """The number of an earlier trial of the study (any worker's) that drew the same point."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
              optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL)
    for other in trial.study.get_trials(deepcopy=False, states=states):
        if other.number < trial.number and other.params == trial.params and REPEAT not in other.user_attrs:
            return other.number
    return None
