"""What the MLflow record keeps of one step's execution: each step module's kept()
returns one (components.reports.step_reports asks it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Kept:
    """What the MLflow record keeps of one execution."""

    files: list[Path] = field(default_factory=list)  # logged as they are
    documents: dict[str, object] = field(default_factory=dict)  # name -> text (.html) or JSON
    series: dict[str, list[float]] = field(default_factory=dict)  # metric -> values by step
    model: tuple[str, str] | None = None  # (Model artifact uri, framework): logged as a pyfunc
    on_pipeline_run: dict[str, object] = field(default_factory=dict)  # also on the parent run
    params: dict[str, object] = field(default_factory=dict)  # MLflow params of the step's run
    # runs nested under the step's run (a tune step's trials): ChildRun each
    children: list[ChildRun] = field(default_factory=list)


@dataclass
class ChildRun:
    """One run under the step's own (a tuning trial), written after the step with the
    times it ran."""

    name: str
    start_ms: int
    end_ms: int
    status: str  # FINISHED, FAILED, KILLED (MLflow's words)
    params: dict[str, object] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # metric -> (step, value)
