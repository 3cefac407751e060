"""What each step reports, asked of the module that owns the step: its key figures
(MLflow metrics and tags), its line in the step log, and what the MLflow record keeps
of it. The lineage code knows no step by name; it calls reporter(node_id).

A reporter is any object (a component module, or a namespace for TFX's stock steps)
with three functions of a step (pipelines.lineage.mlmd.Step: node_id, state, and
output(key) -> the ML Metadata artifact or None):
  figures(step) -> {name: number or string}
  summary(figures) -> the one line of the step log
  kept(step, figures) -> Kept   (figures: what figures(step) returned)
"""
from __future__ import annotations

from types import SimpleNamespace

from components.artifacts.kept import Kept
from sluice_config import step_ids

NOTHING = SimpleNamespace(figures=lambda step: {}, summary=lambda figures: "",
                          kept=lambda step, figures: Kept())


def reporter(node_id: str):
    """The reporter of a step (CsvExampleGen, Transform and baseline report nothing)."""
    from components import data_gate, evaluate, infra_validate, push, tune
    from components.reports import tfx_steps, training
    by_name = {step_ids.STATISTICS_GEN: tfx_steps.STATISTICS_GEN,
               step_ids.EXAMPLE_VALIDATOR: tfx_steps.EXAMPLE_VALIDATOR,
               step_ids.SCHEMA_GEN: tfx_steps.IMPORT_SCHEMA_GEN, step_ids.DATA_GATE: data_gate,
               step_ids.INFRA_VALIDATE: infra_validate, step_ids.PUSH: push}
    by_role = {step_ids.TUNE: tune, step_ids.TRAIN: training, step_ids.EVALUATE: evaluate}
    if node_id in by_name:
        return by_name[node_id]
    role = step_ids.candidate_step(node_id)
    return by_role[role[0]] if role else NOTHING


def figures(step) -> dict:
    return reporter(step.node_id).figures(step)


def summary(step) -> str:
    """The step's one line in the step log."""
    return reporter(step.node_id).summary(figures(step))
