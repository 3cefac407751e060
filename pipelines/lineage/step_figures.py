"""The key figures of each step, read from its output artifacts: row counts, anomaly
count, final loss, eval metrics, push decision. Used by the step log and MLflow."""
from __future__ import annotations

import json
from pathlib import Path

from pipelines.lineage.mlmd import Step, artifact_properties


def dir_size_mb(path: str | Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def split_rows(statistics_uri: str) -> dict[str, int]:
    import tensorflow_data_validation as tfdv

    rows = {}
    for path in sorted(Path(statistics_uri).glob("Split-*/FeatureStats.pb")):
        stats = tfdv.load_stats_binary(str(path))
        rows[path.parent.name.removeprefix("Split-")] = int(stats.datasets[0].num_examples)
    return rows


def figures(step: Step) -> dict:
    """Numbers (metrics) and strings (tags) describing what the step produced."""
    node = step.node_id
    if node == "StatisticsGen" and step.output("statistics"):
        return {f"rows_{k}": v for k, v in split_rows(step.output("statistics").uri).items()}
    if node == "check_anomalies" and step.output("report"):
        props = artifact_properties(step.output("report"))
        return {k: props[k] for k in ("anomaly_count", "drifted_features", "drift_accepted")
                if k in props}
    if node.startswith("train_") and step.output("model_run"):
        history = json.loads(Path(step.output("model_run").uri, "history.json").read_text())
        model_dir = Path(step.output("model").uri, "Format-Serving")
        return {"final_loss": history["loss"][-1], "train_seconds": history["train_seconds"],
                "model_size_mb": dir_size_mb(model_dir)}
    if node.startswith("evaluate_") and step.output("blessing"):
        props = artifact_properties(step.output("blessing"))
        return {k: props[k] for k in ("auc", "accuracy", "loss", "example_count", "blessed",
                                      "baseline_version") if k in props}
    if node == "infra_validate" and step.output("infra_blessing"):
        from components.infra_validate import read_results

        results = read_results(step.output("infra_blessing").uri)
        return {"infra_blessed": sum(r["infra_blessed"] for r in results.values()),
                "infra_validation": "; ".join(f"{r['framework']}: {r['reason']}"
                                              for r in results.values())}
    if node == "push" and step.output("pushed_model"):
        props = artifact_properties(step.output("pushed_model"))
        return {"pushed": props["pushed"], "decision": props["reason"],
                **({"pushed_version": props["pushed_version"]} if props["pushed"] else {})}
    return {}


def summary(step: Step) -> str:
    """The one-line key figure shown in the step log."""
    f = figures(step)
    node = step.node_id
    if node == "StatisticsGen":
        return ", ".join(f"{k[5:]} {v:,} rows" for k, v in f.items())
    if node == "check_anomalies":
        drift = f.get("drifted_features", 0)
        return f"{f['anomaly_count']} anomalies, {drift} drifted features" + (
            " (drift accepted)" if f.get("drift_accepted") else "")
    if node.startswith("train_"):
        return f"loss {f['final_loss']:.4f}, {f['model_size_mb']:.1f} MB"
    if node.startswith("evaluate_"):
        verdict = "BLESSED" if f["blessed"] else "NOT blessed"
        against = f"v{f['baseline_version']}" if f.get("baseline_version") else "no champion"
        scores = ", ".join(f"{m} {f[m]:.4f}" for m in ("auc", "accuracy") if m in f)
        return (f"{scores or 'metrics undefined'} on {int(f['example_count']):,} rows vs "
                f"{against}: {verdict}")
    if node == "infra_validate":
        return f.get("infra_validation", "")
    if node == "push":
        return f.get("decision", "")
    return ""
