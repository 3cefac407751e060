"""Every step's id, declared once: create_pipeline names its steps with these, and
every reader (the step log, the MLflow record, the report, reproduce) looks them up
here instead of matching strings of its own.

A candidate's steps carry the candidate's name: tune_<name> (where it has `tuning:`),
train_<name>, evaluate_<name>.
"""
from __future__ import annotations

EXAMPLE_GEN = "CsvExampleGen"  # the same examples as TFX's CsvExampleGen
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
BASELINE = "baseline"
DATA_GATE = "check_anomalies"
TRANSFORM = "Transform"  # the same outputs as TFX's Transform
INFRA_VALIDATE = "infra_validate"
PUSH = "push"

TUNE = "tune"
TRAIN = "train"
EVALUATE = "evaluate"
CANDIDATE_ROLES = (TUNE, TRAIN, EVALUATE)


def tune(candidate: str) -> str:
    return f"{TUNE}_{candidate}"


def train(candidate: str) -> str:
    return f"{TRAIN}_{candidate}"


def evaluate(candidate: str) -> str:
    return f"{EVALUATE}_{candidate}"


def candidate_step(step_id: str) -> tuple[str, str] | None:
    """(role, candidate name) of a candidate's step id, or None for the other steps."""
    for role in CANDIDATE_ROLES:
        if step_id.startswith(f"{role}_"):
            return role, step_id[len(role) + 1:]
    return None
