"""The pusher: pushes the best blessed candidate, and only a blessed one (blessed by
the evaluator and by infra validation).

With two trainers, each candidate went through the gate on its own; if both are
blessed, the better primary metric wins and the reason is recorded. A model already
pushed (an unchanged rerun) is not pushed again.
"""

import json
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import InfraBlessing, Model, ModelBlessing, PushedModel

from components import metrics
from components.evaluate import read_evaluation
from components.infra_validate import read_results
from serving import push as push_target

DECISION_FILE = "decision.json"


def choose(candidates: list[dict], primary_metric: str) -> tuple[dict | None, str]:
    """candidates: [{framework, blessed, value, ...}] -> (winner or None, reason)."""
    blessed = [c for c in candidates if c["blessed"]]
    if not blessed:
        names = ", ".join(c["framework"] for c in candidates)
        return None, f"not pushed: no candidate was blessed ({names})"
    best = blessed[0]
    for c in blessed[1:]:
        if metrics.better(primary_metric, c["value"], best["value"]):
            best = c
    others = [f"{c['framework']} {primary_metric}={c['value']:.4f}"
              + ("" if c["blessed"] else " (not blessed)") for c in candidates if c is not best]
    reason = f"{best['framework']} blessed with {primary_metric}={best['value']:.4f}"
    return best, reason + (f", chosen over {', '.join(others)}" if others else "")


@component
def push(
    infra_blessing: InputArtifact[InfraBlessing],
    pushed_model: OutputArtifact[PushedModel],
    serving_dir: Parameter[str],
    model_name: Parameter[str],
    primary_metric: Parameter[str],
    keras_model: InputArtifact[Model] = None,
    keras_blessing: InputArtifact[ModelBlessing] = None,
    torch_model: InputArtifact[Model] = None,
    torch_blessing: InputArtifact[ModelBlessing] = None,
):
    """Pushes the winner to <serving_dir>/<model_name>/<version>/ or records why not.

    One optional input per trainer rather than a union of channels, so the same
    component compiles for Kubeflow Pipelines (whose compiler takes single channels)."""
    models = [m for m in (keras_model, torch_model) if m is not None]
    blessings = [b for b in (keras_blessing, torch_blessing) if b is not None]
    by_uri = {m.uri: m for m in models}
    infra = read_results(infra_blessing.uri)
    candidates = []
    for blessing in blessings:
        evaluation = read_evaluation(blessing.uri)
        model_uri = blessing.get_string_custom_property("current_model")
        served = infra.get(model_uri, {"infra_blessed": False, "reason": "not infra-validated"})
        candidates.append({
            "framework": evaluation["framework"],
            "blessed": bool(blessing.get_int_custom_property("blessed")) and served["infra_blessed"],
            "value": evaluation["metrics"]["overall"][primary_metric],
            "model_uri": model_uri,
            "blessing_uri": blessing.uri,
            "reasons": evaluation["reasons"],
            "infra_validation": served["reason"],
        })
    winner, reason = choose(candidates, primary_metric)
    version = None
    if winner is not None:
        version = push_target.find_pushed(serving_dir, model_name, winner["model_uri"])
        if version is not None:
            reason += f"; already serving as version {version}, not pushed again"
            winner = None
        else:
            model_dir = Path(by_uri[winner["model_uri"]].uri, "Format-Serving")
            version = push_target.push(model_dir, serving_dir, model_name, {
                "model_uri": winner["model_uri"], "framework": winner["framework"],
                "blessing_uri": winner["blessing_uri"], "reason": reason,
            })
    decision = {"pushed": winner is not None, "version": version, "reason": reason,
                "candidates": candidates}
    Path(pushed_model.uri, DECISION_FILE).write_text(json.dumps(decision, indent=2))
    pushed_model.set_int_custom_property("pushed", int(winner is not None))
    pushed_model.set_string_custom_property("reason", reason)
    if winner is not None:
        pushed_model.set_int_custom_property("pushed_version", version)
        pushed_model.set_string_custom_property(
            "pushed_destination", str(Path(serving_dir, model_name, str(version))))
        pushed_model.set_string_custom_property("framework", winner["framework"])
        pushed_model.set_string_custom_property("model_uri", winner["model_uri"])


def read_decision(pushed_model_uri: str) -> dict:
    return json.loads(Path(pushed_model_uri, DECISION_FILE).read_text())
