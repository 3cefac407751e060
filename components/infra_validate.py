"""Infra validation: proves a blessed candidate serves before it may be pushed.

Each blessed candidate is copied into a scratch serving dir and served by the real
model server (`sluice serve`) in a separate process. The eval rows the gate scored are
sent over HTTP in both TF Serving request formats, and the answers must match the
gate's own predictions within a tolerance. A candidate that does not load, answer or
match is not infra-blessed, and the pusher will not push it; the reason is recorded.
"""

import json
from pathlib import Path

import numpy as np
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import InfraBlessing

from components.artifacts import tfx_layout
from components.artifacts.evaluation_record import read_evaluation
from components.artifacts.kept import Kept
from components.candidate_slots import unpack, with_candidate_slots
from components.evaluate import read_samples
from serving.model_format import push_target

RESULTS_FILE = "infra_validation.json"


def check_answers(server, name: str, samples: dict, tolerance: float) -> str | None:
    """Row and columnar requests against the gate's predictions -> None or the problem."""
    rows = samples["rows"]
    expected = np.array(samples["probabilities"])
    count = len(expected)
    requests = {
        "instances": {"instances": [{n: rows[n][i] for n in rows} for i in range(count)]},
        "inputs": {"inputs": rows},
    }
    for request_format, body in requests.items():
        status, answer = server.post(f"/v1/models/{name}:predict", body)
        if status != 200:
            return f"{request_format} request got HTTP {status}: {answer.get('error', answer)}"
        got = np.array(answer.get("predictions", answer.get("outputs")))
        if got.shape != expected.shape:
            return f"{request_format} answer has shape {got.shape}, expected {expected.shape}"
        worst = float(np.abs(got - expected).max())
        if worst > tolerance:
            return (f"{request_format} answers differ from the evaluator's predictions by up to "
                    f"{worst:.2e} (tolerance {tolerance:.0e})")
    return None


LATENCY_REQUESTS = 15  # per size; the median is reported


def measure_latency(server, name: str, samples: dict) -> dict[str, float]:
    """Median wall time (ms) of a 1-row and a 100-row predict request, as a client
    sees it over loopback (rows repeat the evaluator's sample rows)."""
    import time

    rows = samples["rows"]
    count = len(samples["probabilities"])
    latency = {}
    for size in (1, 100):
        body = json.dumps({"instances": [{n: rows[n][i % count] for n in rows}
                                         for i in range(size)]}).encode()
        took = []
        for _ in range(LATENCY_REQUESTS):
            started = time.perf_counter()
            server.post(f"/v1/models/{name}:predict", body)
            took.append((time.perf_counter() - started) * 1000)
        latency[f"{size}_row_ms"] = float(np.median(took))
    return latency


def validate(candidates: dict[str, dict], timeout: int, tolerance: float) -> dict[str, dict]:
    """candidates: model_uri -> {candidate, framework, model_dir, samples} -> results by
    model_uri. The server is the one `sluice run` started ahead, if any
    (serving.server.standby); the candidates are pushed into its serving dir."""
    from serving.server import standby

    results = {}
    frameworks = tuple(sorted({c["framework"] for c in candidates.values()}))
    with standby.take(frameworks) as scratch:
        server = scratch.server
        names = {}
        for uri, c in candidates.items():
            names[uri] = f"candidate-{c['candidate']}"
            push_target.push(c["model_dir"], scratch.serving_dir, names[uri], {"model_uri": uri})
        try:
            server.wait_ready({n: 1 for n in names.values()}, timeout)
            failure = None
        except (RuntimeError, TimeoutError) as err:
            failure = f"the model server did not load it: {err}"
        for uri, c in candidates.items():
            problem = failure or check_answers(server, names[uri], c["samples"], tolerance)
            results[uri] = {
                "latency": {} if problem else measure_latency(server, names[uri], c["samples"]),
                "framework": c["framework"], "candidate": c["candidate"],
                "infra_blessed": problem is None,
                "reason": problem or f"served by the model server{' (started ahead)' if scratch.ahead else ''}; "
                                     f"{len(c['samples']['probabilities'])} eval rows answered in both "
                                     f"request formats within {tolerance:.0e}",
            }
    return results


@component
@with_candidate_slots
def infra_validate(
    infra_blessing: OutputArtifact[InfraBlessing],
    timeout_seconds: Parameter[int] = 180,
    tolerance: Parameter[float] = 1e-4,
    **candidate_inputs,
):
    """Serves every blessed candidate in one real server process and checks its answers.
    (The candidates arrive in slots: components.candidate_slots.)"""
    candidates = {}
    results = {}
    for model, blessing in unpack(candidate_inputs):
        uri = blessing.get_string_custom_property("current_model")
        evaluation = read_evaluation(blessing.uri)
        named = {"framework": evaluation["framework"], "candidate": evaluation["candidate"]}
        if blessing.get_int_custom_property("blessed"):
            candidates[uri] = {**named, "samples": read_samples(blessing.uri),
                               "model_dir": tfx_layout.serving_model_dir(model.uri)}
        else:
            results[uri] = {**named, "infra_blessed": False,
                            "reason": "skipped: not blessed by the evaluator"}
    if candidates:
        results.update(validate(candidates, timeout_seconds, tolerance))
    Path(infra_blessing.uri, RESULTS_FILE).write_text(json.dumps(results, indent=2))
    blessed = [r["candidate"] for r in results.values() if r["infra_blessed"]]
    infra_blessing.set_int_custom_property("blessed", int(bool(blessed)))
    infra_blessing.set_string_custom_property("infra_blessed", ",".join(blessed))


def read_results(infra_blessing_uri: str) -> dict:
    return json.loads(Path(infra_blessing_uri, RESULTS_FILE).read_text())


# What this step reports (components.reports.step_reports).
def figures(step) -> dict:
    infra_blessing = step.output("infra_blessing")
    if not infra_blessing:
        return {}
    results = read_results(infra_blessing.uri)
    return {"infra_blessed": sum(r["infra_blessed"] for r in results.values()),
            "infra_validation": "; ".join(f"{r['candidate']}: {r['reason']}" for r in results.values())}


def summary(f: dict) -> str:
    return f.get("infra_validation", "")


def kept(step, figures: dict) -> Kept:
    infra_blessing = step.output("infra_blessing")
    return Kept(files=[Path(infra_blessing.uri, RESULTS_FILE)] if infra_blessing else [])
