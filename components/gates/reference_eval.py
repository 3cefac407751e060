"""The model gate's second set of rows: the eval rows of the pinned drift reference
(components.gates.drift_reference), fixed until the user re-pins it.

The gate scores the candidate and the champion on the new data's eval rows. When the
new data's labels are wrong (a label delivered in other units), the champion fails on
them and a candidate trained on the same wrong labels "beats" it there. On rows that
stay put, the candidate must not regress against the champion beyond the gate's
tolerance, and for promotion it must not be worse beyond the noise. Both figures are
in the decision.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from components.gates import metrics, paired_test


def parse(parameter: str) -> dict | None:
    """The evaluate step's reference_eval parameter ({name, version, examples_uri}) ->
    the reference, or None where there is none or its rows are gone."""
    if not parameter:
        return None
    reference = json.loads(parameter)
    uri = reference.get("examples_uri")
    return reference if uri and Path(uri).exists() else None


def judge(labels: np.ndarray, candidate: np.ndarray, champion: np.ndarray, version: int,
          reference: dict, model_gate) -> tuple[bool, list[str], dict]:
    """The candidate against champion v`version` on the reference's eval rows: no
    regression beyond gate.max_regression. -> (ok, reasons, the record: the reference,
    both models' metrics and the paired interval of the primary metric)."""
    gate = model_gate.gate
    candidate_metrics = metrics.compute(labels, candidate)
    champion_metrics = metrics.compute(labels, champion)
    where = f"on {reference['name']}"
    ok, reasons = metrics.judge(candidate_metrics, champion_metrics, {}, gate.max_regression,
                                baseline_name=f"champion v{version} {where}")
    record = {**reference, "candidate": candidate_metrics, "champion": champion_metrics,
              "improvement": None}
    if gate.promotion.confidence:
        record["improvement"] = paired_test.paired_difference(
            gate.primary_metric, labels, candidate, champion, gate.promotion.confidence)
    return ok, [f"{r} ({where})" if where not in r else r for r in reasons], record


def worse_beyond_noise(record: dict | None) -> bool:
    """Is the candidate worse than the champion on the reference rows, beyond their
    noise? (Then it is not promoted, whatever the new rows say.)"""
    interval = (record or {}).get("improvement")
    return bool(interval) and interval["high"] < 0
