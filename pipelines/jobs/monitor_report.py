"""`sluice monitor`'s outputs: the HTML report (served against trained, feature by
feature, with plots, self-contained like the run report) and the MLflow run, in the
model's experiment, tagged with the model version it judged (sluice.kind=monitor),
with one metric per feature measure and the report as an artifact."""
from __future__ import annotations

import html
import math
import time
from pathlib import Path

import numpy as np

from components.gates.serving_skew import PREDICTION, SkewReport
from pipelines.lineage.run_report import html_table, png

KIND = "monitor"
STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.bad{color:#b00;font-weight:bold}"
         ".plots{display:flex;flex-wrap:wrap;gap:1em}")


def _feature_stats(statistics, name: str):
    for found in statistics.datasets[0].features:
        if ".".join(found.path.step) == name:
            return found
    return None


def _plot(report: SkewReport, frame, name: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from components.gates import drift

    figure, axis = plt.subplots(figsize=(4.2, 2.6))
    buckets = drift.quantile_buckets(report.training_statistics, name)
    served = frame[name].dropna() if name in frame else None
    if buckets and served is not None and len(served):
        edges, trained = [buckets[0][0]], []
        for low, high, count in buckets:  # zero-width buckets (a repeated value) join the previous one
            if trained and high <= edges[-1]:
                trained[-1] += count
            else:
                edges.append(high if high > edges[-1] else edges[-1] + 1e-9)
                trained.append(count)
        edges, trained = np.array(edges), np.array(trained, np.float64)
        counts, _ = np.histogram(np.clip(served.astype(float), edges[0], edges[-1]), edges)
        centers = np.arange(len(edges) - 1)
        axis.bar(centers - 0.2, trained / trained.sum(), 0.4, label="trained")
        axis.bar(centers + 0.2, counts / max(counts.sum(), 1), 0.4, label="served")
        axis.set_xlabel(f"{name}: training deciles ({edges[0]:.3g} .. {edges[-1]:.3g})")
    else:
        stats = _feature_stats(report.training_statistics, name)
        ranks = stats.string_stats.rank_histogram.buckets if stats is not None else []
        total = sum(b.sample_count for b in ranks) or 1
        labels = [b.label for b in ranks][:10]
        served_share = (served.value_counts(normalize=True) if served is not None and len(served) else {})
        x = np.arange(len(labels))
        axis.bar(x - 0.2, [b.sample_count / total for b in ranks][:10], 0.4, label="trained")
        axis.bar(x + 0.2, [float(served_share.get(v, 0.0)) for v in labels], 0.4, label="served")
        axis.set_xticks(x, [v[:12] for v in labels], rotation=60, fontsize=7)
        axis.set_xlabel(f"{name}: top training values")
    axis.set_ylabel("share of rows")
    axis.legend(fontsize=7)
    return png(figure)


def _prediction_plot(report: SkewReport) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.2, 2.6))
    low = min(report.eval_scores.min(), report.served_scores.min())
    high = max(report.eval_scores.max(), report.served_scores.max())
    bins = np.linspace(low, high if high > low else low + 1, 21)
    axis.hist(report.eval_scores, bins, density=True, alpha=0.6, label="eval split (gate)")
    axis.hist(report.served_scores, bins, density=True, alpha=0.6, label="served")
    axis.set_xlabel("predicted score")
    axis.legend(fontsize=7)
    return png(figure)


def render(report: SkewReport, frame, model: str, version: str, sources: list[Path],
           since: str | None) -> str:
    crossed = report.crossed
    verdict = (f'<p class="bad">Bounds crossed: {html.escape(", ".join(crossed))}</p>' if crossed
               else "<p>Every feature and the predictions are within the config's bounds.</p>")
    rows = [[r["feature"], r["measure"], r["value"], r["threshold"], "CROSSED" if r["drifted"] else "ok"]
            for r in report.features]
    p = report.prediction
    rows.append([PREDICTION, p["measure"], p["value"], p["threshold"], "CROSSED" if p["drifted"] else "ok"])
    anomalies = (html_table(["feature", "schema anomaly (SERVING environment)"], sorted(report.anomalies.items()))
                 if report.anomalies else "<p>No schema anomalies.</p>")
    plots = "".join(f"<div>{_plot(report, frame, r['feature'])}</div>" for r in report.features)
    if len(report.eval_scores) and len(report.served_scores):
        plots = f"<div>{_prediction_plot(report)}</div>" + plots
    files = ", ".join(html.escape(str(s)) for s in sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>sluice monitor: {html.escape(model)} "
            f"v{version}</title><style>{STYLE}</style></head><body>"
            f"<h1>Serving traffic against training data</h1>"
            f"<p>{html.escape(model)} version {version}: {report.rows:,} served rows from {files}"
            f"{' since ' + html.escape(since) if since else ''}, made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>"
            f"{verdict}<h2>Skew per feature</h2>"
            f"{html_table(['feature', 'measure', 'value', 'bound', 'verdict'], rows)}"
            f"<h2>Schema</h2>{anomalies}<h2>Distributions, served against trained</h2>"
            f"<div class='plots'>{plots}</div></body></html>")


def record(tracking_uri: str, experiment_name: str, model_name: str, version: str, report: SkewReport, data: str,
           since: str | None, report_path: Path) -> str:
    """One MLflow run for the comparison, in the pipeline's experiment; -> its run id."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    run = client.create_run(experiment.experiment_id if experiment else "0", run_name=f"monitor {model_name} v{version}", tags={
        "sluice.kind": KIND, "sluice.model_name": model_name, "sluice.model_version": str(version),
        "sluice.crossed": ", ".join(report.crossed)})
    run_id = run.info.run_id
    client.log_param(run_id, "data", data)
    client.log_param(run_id, "since", since or "")
    client.log_metric(run_id, "rows", report.rows)
    for row in [*report.features, report.prediction]:
        if not math.isnan(row["value"]):
            client.log_metric(run_id, f"skew.{row['feature'].split(' ')[0]}", row["value"])
    client.log_metric(run_id, "anomalies", len(report.anomalies))
    client.log_artifact(run_id, str(report_path))
    client.set_terminated(run_id, "FINISHED")
    return run_id
