"""One adapter per framework: what training, checking and exporting a candidate of
that framework means (the registry, sluice_config.frameworks, names them). The DAG asks
run_fn(framework) for the Trainer's entry point; nothing else outside the adapters (and
the registry, and the serving flavors that save and load what they export) knows a
framework by name.
"""
from __future__ import annotations

from sluice_config.frameworks import framework as registered


def run_fn(framework: str) -> str:
    """The dotted run_fn TFX's Trainer calls for a candidate of this framework."""
    return f"{registered(framework).adapter_module}.run_fn"


def adapter(framework: str):
    return registered(framework).adapter()


def run_candidate(framework: str, fn_args, train) -> None:
    """What each adapter's run_fn does: the candidate's module runs its own run_fn when
    it defines one (full control), else the adapter's train runs (here, or on
    training.workers processes: trainers.distributed); a TrainerModuleError becomes the
    candidate's recorded failure (trainers.module_contract) instead of failing the run."""
    from trainers import distributed, module_contract

    _, candidate = module_contract.candidate_of(fn_args)
    module = module_contract.load(candidate)
    if not hasattr(module, "build_model"):
        module.run_fn(fn_args)
        return
    try:
        distributed.train_or_launch(framework, fn_args, train)
    except module_contract.TrainerModuleError as err:
        module_contract.record_failure(fn_args.serving_model_dir, candidate, err)


TUNED_KEY = "values"  # in the best_hyperparameters artifact (components.tune writes it)


def tuned_hparams(fn_args, hparams: dict) -> dict:
    """The candidate's hyperparameters with the tune step's best values on top, where the
    Trainer was given them (TFX's `hyperparameters` input)."""
    return {**hparams, **(given_hyperparameters(fn_args).get(TUNED_KEY) or {})}


def tuned_from(fn_args) -> dict:
    """Where the best values came from (the study, the trial, its objective), or {}."""
    return given_hyperparameters(fn_args).get("tuning") or {}


def given_hyperparameters(fn_args) -> dict:
    """TFX's FnArgs.hyperparameters, or {} (none given; or fn_args built by hand)."""
    return getattr(fn_args, "hyperparameters", None) or {}


def run_trial(framework: str, *args, **kwargs) -> None:
    """One tuning trial, by the candidate's adapter (keras_adapter.trial, torch_adapter.trial)."""
    adapter(framework).trial(*args, **kwargs)
