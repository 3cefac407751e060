"""Does a pushed version still pass the gate as the config reads today? Its own gate
figures (evaluation.json of the blessing it was pushed with) against the current
absolute, per-slice and per-class bounds.

A team tightens a bound (adds `per_class: {recall: 0.1}`) after the champion was
pushed; every later candidate is held to it, while the version serving may fail it
itself. The run says so at its start and `sluice models` marks it, so nobody reads
"the champion stays" as "the champion passes".
"""
from __future__ import annotations

from pathlib import Path

from components.artifacts.evaluation_record import EVALUATION_FILE, read_evaluation
from components.gates import metrics
from serving.model_format import push_target


def failing_checks(version_dir: Path, gate) -> list[str]:
    """The current bounds (a config's Gate) the version's own gate figures fail; [] when
    it passes them or has no figures on disk (a version pushed by hand)."""
    blessing = push_target.push_record(version_dir).get("blessing_uri")
    if not blessing or not Path(blessing, EVALUATION_FILE).is_file():
        return []
    found = read_evaluation(blessing)["metrics"]
    if not found.get("overall"):
        return []
    # a metric the version was not scored on (the config's task changed since) is no check
    thresholds = {m: b for m, b in gate.thresholds.items() if m in found["overall"]}
    _, reasons = metrics.judge(found["overall"], None, thresholds, {})
    slices = {c: {v: m for v, m in values.items() if all(k in m for k in gate.slice_thresholds)}
              for c, values in found.get("slices", {}).items()}
    _, slice_reasons, _ = metrics.judge_slices(slices, gate.slice_thresholds, gate.min_slice_examples)
    _, class_reasons = (metrics.judge_per_class(found["per_class"], gate.per_class,
                                                gate.min_class_examples)
                        if "per_class" in found else (True, []))
    return [r for r in reasons + slice_reasons + class_reasons if "FAILED" in r]
