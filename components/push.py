"""The pusher: pushes the best blessed candidate, and only a blessed one (blessed by
the evaluator and by infra validation) judged against the version serving now, and only
when it beats the champion on the same rows (promotion, gate.min_improvement).

With two trainers, each candidate went through the gate on its own; if both are
blessed, the better primary metric wins and the reason is recorded. Under the model's
push lock, a blessing judged against another baseline than the version serving at
that moment (another run pushed meanwhile, a rollback, a partial or re-run task) is
re-judged against the live version first, so no path pushes an unvetted model. A model
already pushed (an unchanged rerun) or taken out of service by a rollback is not
pushed again.
"""

import json
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import (
    Examples,
    ExampleStatistics,
    InfraBlessing,
    PushedModel,
    TransformGraph,
)

from components import baseline as baseline_input
from components.artifacts import tfx_layout
from components.artifacts.evaluation_record import read_evaluation
from components.artifacts.kept import Kept
from components.candidate_slots import unpack, with_candidate_slots
from components.evaluate import (
    failed_checks,
    gate_columns,
    judge_against,
    judge_on_reference_rows,
    score_eval_split,
)
from components.gates import metrics, paired_test
from components.gates import reference_eval as reference_rows
from components.infra_validate import read_results
from serving.model_format import push_target
from sluice_config import run_context
from sluice_config.config import ModelGate, from_parameter

DECISION_FILE = "decision.json"


def choose(candidates: list[dict], primary_metric: str) -> tuple[dict | None, str]:
    """candidates: [{candidate, blessed, value, ...}] in the config's order -> (winner or
    None, reason). The best primary metric among the blessed wins; a tie goes to the
    one listed first in the config, and the reason says so."""
    blessed = [c for c in candidates if c["blessed"]]
    if not blessed:
        names = "; ".join(f"{c['candidate']}: {why_not(c)}" for c in candidates)
        return None, f"not pushed: no candidate was blessed ({names})"
    best = blessed[0]
    for c in blessed[1:]:
        if metrics.better(primary_metric, c["value"], best["value"]):
            best = c
    tied = [c["candidate"] for c in blessed if c is not best and c["value"] == best["value"]]
    others = [f"{c['candidate']} {primary_metric}={c['value']:.4f}"
              + ("" if c["blessed"] else " (not blessed)") for c in candidates if c is not best]
    reason = f"{best['candidate']} blessed with {primary_metric}={best['value']:.4f}"
    if others:
        reason += f", chosen over {', '.join(others)}"
    if tied:
        reason += f" (tied with {', '.join(tied)}: the first in the config's candidates wins)"
    return best, reason


def why_not(candidate: dict) -> str:
    """A candidate's first failing check (or failed training, or infra validation),
    where the push line names it."""
    reasons = candidate.get("reasons", [])
    failed = failed_checks(reasons, 1) or next((r for r in reasons if r.startswith("training failed")), "")
    return failed or f"infra validation: {candidate.get('infra_validation') or 'not run'}"


def rejudge(candidates: list[dict], examples_uri: str, transform_uri: str, model_gate: ModelGate,
            serving_dir: str, model_name: str, reference: dict | None = None) -> int:
    """Re-judges, in place, every blessed candidate whose blessing was judged against
    another version than the one serving now. Call under the push lock.
    -> the live version."""
    from serving.model_format.model import ServableModel

    live, live_dir, _ = baseline_input.champion_record(serving_dir, model_name)
    stale = [c for c in candidates if c["blessed"] and c["baseline_version"] != live]
    if not stale:
        return live
    live_model = ServableModel(live_dir) if live_dir else None
    columns = live_model.feature_names if live_model else []
    models = [ServableModel(tfx_layout.serving_model_dir(c["model_uri"])) for c in stale]
    for model in models:
        columns += gate_columns(model, model_gate)
    scored = score_eval_split(examples_uri, transform_uri, columns,
                              [*models, live_model] if live_model else models, [])
    live_probabilities = scored.probabilities[-1] if live_model else None
    for c, probabilities in zip(stale, scored.probabilities):
        evaluation = read_evaluation(c["blessing_uri"])
        blessed, reasons, champion = judge_against(evaluation["metrics"], probabilities,
                                                   live_probabilities, live_dir or "", live,
                                                   scored.labels, model_gate)
        c["champion_value"] = champion_value(champion, model_gate.gate.primary_metric)
        c["improvement"] = champion.get("improvement") if champion else None
        c["rejudged"] = (f"judged against {_name(c['baseline_version'])} at the gate, but v{live} "
                         f"serves now: re-judged against v{live}: {'; '.join(reasons)}")
        c["blessed"], c["baseline_version"], c["reasons"] = blessed, live, reasons
        c["reference_eval"] = None
    judged = judge_on_reference_rows(reference, examples_uri, transform_uri, columns, models,
                                     live_model, live, model_gate)
    for c, (ok, more, record) in zip(stale, judged or []):
        c["blessed"], c["reasons"], c["reference_eval"] = c["blessed"] and ok, c["reasons"] + more, record
        c["rejudged"] += "; " + "; ".join(more)
    return live


def champion_value(champion: dict | None, metric: str) -> float | None:
    """The champion's primary metric on the gate's eval rows (None with no champion)."""
    return champion["metrics"][metric] if champion else None


def promotion(winner: dict, live: int, gate) -> tuple[bool, str]:
    """Promotion, apart from blessing: the blessed winner replaces the champion only
    when its primary metric beats the champion's on the same rows (components.gates.metrics.
    promotes) and the improvement lies beyond the noise of those rows (a paired test at
    gate.promotion.confidence, components.gates.paired_test). -> (promoted, why)."""
    if not live:
        return True, "no champion yet"
    promoted, words = metrics.promotes(gate.primary_metric, winner["value"], winner["champion_value"],
                                       gate.min_improvement, gate.allow_equal)
    reference = winner.get("reference_eval")
    if reference_rows.worse_beyond_noise(reference):
        return False, (f"worse than the champion on {reference['name']} beyond the noise "
                       f"({paired_test.words(reference['improvement'])}), whatever the new rows "
                       f"say; {words} (champion v{live})")
    if reference and reference.get("improvement"):
        words += f"; on {reference['name']}: {paired_test.words(reference['improvement'])}"
    interval = winner.get("improvement")
    if interval and not paired_test.beyond_noise(interval):
        if interval["high"] >= 0:  # better or worse, no telling on these rows
            return False, f"within the noise ({paired_test.words(interval)}); {words} (champion v{live})"
        return False, f"{words}; worse beyond the noise ({paired_test.words(interval)}) (champion v{live})"
    if interval:
        words += f"; beyond the noise ({paired_test.words(interval)})"
    return promoted, f"{words} (champion v{live})"


def _name(version: int) -> str:
    return f"v{version}" if version else "no champion"


@component
@with_candidate_slots
def push(
    infra_blessing: InputArtifact[InfraBlessing],
    examples: InputArtifact[Examples],
    statistics: InputArtifact[ExampleStatistics],
    transform_graph: InputArtifact[TransformGraph],
    pushed_model: OutputArtifact[PushedModel],
    serving_dir: Parameter[str],
    model_name: Parameter[str],
    gate: Parameter[str],  # a ModelGate as JSON
    serving_state: Parameter[str],
    reference_eval: Parameter[str] = "",  # the pinned reference's eval rows (components.gates.reference_eval)
    **candidate_inputs,
):
    """Pushes the winner to <serving_dir>/<model_name>/<version>/ or records why not.

    gate: a ModelGate as JSON. serving_state (serving.model_format.push_target.state_digest
    when the pipeline was built) is not read: it puts the serving dir's versions and
    rollbacks into the cache key, because the decision depends on them. The candidates
    arrive in slots (components.candidate_slots), in the config's order."""
    model_gate = from_parameter(ModelGate, gate)
    primary_metric = model_gate.gate.primary_metric
    pairs = unpack(candidate_inputs)
    by_uri = {m.uri: m for m, _ in pairs}
    infra = read_results(infra_blessing.uri)
    candidates = []
    for _, blessing in pairs:
        evaluation = read_evaluation(blessing.uri)
        model_uri = blessing.get_string_custom_property("current_model")
        served = infra.get(model_uri, {"infra_blessed": False, "reason": "not infra-validated"})
        candidates.append({
            "candidate": evaluation["candidate"],
            "framework": evaluation["framework"],
            "blessed": bool(blessing.get_int_custom_property("blessed")) and served["infra_blessed"],
            "value": evaluation["metrics"]["overall"].get(primary_metric, float("nan")),
            "model_uri": model_uri,
            "blessing_uri": blessing.uri,
            "baseline_version": evaluation.get("baseline_version", 0),
            "champion_value": champion_value(evaluation.get("champion"), primary_metric),
            "improvement": (evaluation.get("champion") or {}).get("improvement"),
            "reference_eval": evaluation.get("reference_eval"),
            "reasons": evaluation["reasons"],
            "infra_validation": served["reason"],
        })
    with push_target.push_lock(serving_dir, model_name):
        live = rejudge(candidates, examples.uri, transform_graph.uri, model_gate,
                       serving_dir, model_name, reference_rows.parse(reference_eval))
        winner, reason = choose(candidates, primary_metric)
        if winner is None:
            reason += "".join(f"; {c['candidate']} was {c['rejudged']}" for c in candidates
                              if c.get("rejudged"))
        version, promoted = None, None
        pushed = push_target.find_pushed(serving_dir, model_name, winner["model_uri"]) if winner else None
        if winner is not None and pushed is None:
            promoted, why = promotion(winner, live, model_gate.gate)
            winner["promotion"] = why
            if not promoted:
                reason = (f"blessed, not promoted: {reason}; {why}: the champion stays"
                          + (" (re-judged at push time)" if winner.get("rejudged") else ""))
                winner = None
            elif live:
                reason += f"; promoted: {why}"
        if winner is not None:
            rolled_back = push_target.find_rolled_back(serving_dir, model_name, winner["model_uri"])
            if pushed is not None:
                reason += f"; already serving as version {pushed}, not pushed again"
                winner = None
            elif rolled_back is not None:
                reason += (f"; this model was version {rolled_back}, taken out of service by a "
                           "rollback: not pushed again")
                winner = None
            else:
                model_dir = tfx_layout.serving_model_dir(by_uri[winner["model_uri"]].uri)
                version = push_target.push(model_dir, serving_dir, model_name, {
                    "model_uri": winner["model_uri"], "framework": winner["framework"],
                    "candidate": winner["candidate"],
                    "blessing_uri": winner["blessing_uri"], "reason": reason,
                    "baseline_version": live, "statistics_uri": statistics.uri,
                    "examples_uri": examples.uri, "mlflow_run_id": run_context.mlflow_run_id(),
                })
                reason += f"; pushed as version {version} (judged against {_name(live)}" + (
                    ", re-judged at push time)" if winner.get("rejudged") else ")")
    decision = {"pushed": winner is not None, "version": version, "reason": reason,
                "promoted": promoted, "baseline_version": live, "candidates": candidates}
    Path(pushed_model.uri, DECISION_FILE).write_text(json.dumps(decision, indent=2))
    pushed_model.set_int_custom_property("pushed", int(winner is not None))
    pushed_model.set_int_custom_property("blessed", sum(bool(c["blessed"]) for c in candidates))
    pushed_model.set_int_custom_property("baseline_version", live)
    pushed_model.set_string_custom_property("reason", reason)
    if winner is not None:
        pushed_model.set_int_custom_property("pushed_version", version)
        pushed_model.set_string_custom_property(
            "pushed_destination", str(Path(serving_dir, model_name, str(version))))
        pushed_model.set_string_custom_property("framework", winner["framework"])
        pushed_model.set_string_custom_property("candidate", winner["candidate"])
        pushed_model.set_string_custom_property("model_uri", winner["model_uri"])


def read_decision(pushed_model_uri: str) -> dict:
    return json.loads(Path(pushed_model_uri, DECISION_FILE).read_text())


# What this step reports (components.reports.step_reports).
def figures(step) -> dict:
    pushed_model = step.output("pushed_model")
    if not pushed_model:
        return {}
    props = tfx_layout.custom_properties(pushed_model)
    return {"pushed": props["pushed"], "decision": props["reason"], "blessed": props.get("blessed", 0),
            **({"pushed_version": props["pushed_version"]} if props["pushed"] else {})}


def summary(f: dict) -> str:
    return f.get("decision", "")


def kept(step, figures: dict) -> Kept:
    pushed_model = step.output("pushed_model")
    if not pushed_model:
        return Kept()
    return Kept(files=[Path(pushed_model.uri, DECISION_FILE)],
                on_pipeline_run={"sluice.push_decision": figures["decision"]})
