"""The run report: one self-contained HTML page per pipeline run (plots embedded as
PNG, no network needed), built only from what the run recorded in MLflow and the
artifacts its steps wrote, so `sluice report RUN_ID` can rebuild it later.

It tells the run's story in order: the data (rows per split, anomalies, drift, a link
to the TFDV statistics view), the candidates side by side (metrics, per-slice
metrics, loss curves, ROC and calibration curves, training time, model size), the
decisions (each gate's reasons, the baseline judged against, infra validation, the
push), and the lineage (data digest, schema, commit, lock, config).
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import tempfile
from pathlib import Path

from components import data_gate, infra_validate
from components.artifacts import evaluation_record
from components.reports import tfx_steps
from pipelines.lineage.mlflow_record import recorded_spans
from sluice_config import step_ids

REPORT_FILE = "report.html"


def png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def html_table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


class RunReport:
    """Reads one parent run and its steps from MLflow."""

    def __init__(self, run_id: str, tracking_uri: str):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri)
        self.run = self.client.get_run(run_id)
        children = self.client.search_runs(
            [self.run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'")
        self.steps = {c.info.run_name: c for c in children}
        listed = [n for n in self.run.data.tags.get("sluice.trainers", "").split(",") if n]
        found = [step_ids.candidate_step(name)[1] for name in sorted(self.steps)
                 if step_ids.candidate_step(name)]
        self.candidates = list(dict.fromkeys([*listed, *found]))  # the config's order first

    def artifact_json(self, step: str, name: str) -> dict | None:
        run = self.steps.get(step)
        if run is None:
            return None
        try:
            with tempfile.TemporaryDirectory() as scratch:
                return json.loads(Path(self.client.download_artifacts(
                    run.info.run_id, name, scratch)).read_text())
        except Exception:  # not logged for this step (it failed before writing it)
            return None

    def evaluations(self) -> dict[str, dict]:
        found = {}
        for name in self.candidates:
            evaluation = self.artifact_json(step_ids.evaluate(name), evaluation_record.EVALUATION_FILE)
            if evaluation is not None:
                found[name] = evaluation
        return found

    def data_section(self) -> str:
        parts = ["<h2>Data</h2>"]
        spans = recorded_spans(self.client, self.run.info.run_id) if "sluice.span_names" in self.run.data.tags else []
        if spans:
            parts.append("<h3>Spans trained on</h3>" + html_table(
                ["span", "rows", "sha256", "files"],
                [[s["name"], s["rows"], s["sha256"][:16], ", ".join(s["files"])] for s in spans]))
        stats = self.steps.get(step_ids.STATISTICS_GEN)
        if stats is not None:
            splits = {k[5:]: int(v) for k, v in stats.data.metrics.items() if k.startswith("rows_")}
            parts.append(html_table(["split", "rows"], sorted(splits.items())))
            view = stats.info.artifact_uri
            parts.append(f'<p>TFDV statistics view: <a href="{html.escape(view)}">'
                         "statistics_Split-*.html</a> (artifacts of the StatisticsGen step)</p>")
        anomalies = self.artifact_json(step_ids.EXAMPLE_VALIDATOR, tfx_steps.ANOMALIES_REPORT) or []
        parts.append(f"<h3>Anomalies ({len(anomalies)})</h3>")
        if anomalies:
            parts.append(html_table(["split", "feature", "anomaly", "details"],
                                [[a["split"], a["feature"], a["anomaly"], a["details"]] for a in anomalies]))
        drift = self.artifact_json(step_ids.DATA_GATE, data_gate.DRIFT_FILE) or {"rows": []}
        against = [r["name"] for r in drift.get("references", [])]
        if drift.get("spans"):
            against.append(f"the previous span ({drift['spans']['previous']['name']})")
        parts.append(f"<h3>Drift against {html.escape(' and '.join(against) or '(no reference yet)')}"
                     + (" (accepted)" if drift.get("accepted") else "") + "</h3>")
        if drift["rows"]:
            parts.append(html_table(["feature", "measure", "value", "threshold", "reference", "drifted"],
                                [[r["feature"], r["measure"], r["value"], r["threshold"],
                                  r.get("reference", ""), "DRIFTED" if r["drifted"] else ""]
                                 for r in drift["rows"]]))
        else:
            parts.append("<p>No comparison: no version was pushed yet.</p>" if not against
                         else "<p>Not measured (the run stopped before the data gate).</p>")
        return "".join(parts)

    def models_section(self, evaluations: dict) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        parts = ["<h2>The candidates, side by side</h2>"]
        infra = self.artifact_json(step_ids.INFRA_VALIDATE, infra_validate.RESULTS_FILE) or {}
        latencies = {r.get("candidate", r["framework"]): r.get("latency", {}) for r in infra.values()}
        rows = []
        regression = any("rmse" in e["metrics"]["overall"] for e in evaluations.values())
        shown = ("rmse", "mae", "r2") if regression else ("auc", "accuracy", "loss")
        names = {"loss": "log loss", "r2": "R²"}
        names = {m: names.get(m, m) for m in shown}
        for name in self.candidates:
            train = self.steps.get(step_ids.train(name))
            evaluation = evaluations.get(name)
            if train is None and evaluation is None:
                continue
            overall = evaluation["metrics"]["overall"] if evaluation else {}
            m = train.data.metrics if train else {}
            latency = latencies.get(name, {})
            framework = (evaluation or {}).get("framework") or (train.data.tags.get("sluice.framework", "")
                                                                 if train else "")
            rows.append([name, framework, *(overall.get(k, "") for k in shown), overall.get("example_count", ""),
                         m.get("train_seconds", ""), m.get("model_size_mb", ""),
                         latency.get("1_row_ms", ""), latency.get("100_row_ms", ""),
                         "BLESSED" if evaluation and evaluation["blessed"] else "not blessed"])
        parts.append(html_table(["candidate", "framework", *(names[m] for m in shown), "eval rows",
                             "train s", "model MB", "1-row ms", "100-row ms", "gate"], rows))
        parts.append("<p>Latency: median of the model server's answers to 1-row and 100-row "
                     "requests over loopback, measured by infra validation.</p>")

        figure, axis = plt.subplots(figsize=(6, 3.5))
        for name in self.candidates:
            train = self.steps.get(step_ids.train(name))
            if train is not None:
                history = self.client.get_metric_history(train.info.run_id, "train_loss")
                axis.plot([h.step for h in history], [h.value for h in history], label=name)
        axis.set(title="training loss (the same batches for every candidate)",
                 xlabel="training progress (logged points)", ylabel="loss")
        axis.legend()
        parts.append(png(figure))
        parts.append(self._curves(evaluations, plt))
        parts.append(self._classes(evaluations, plt))
        parts.append(self._slices(evaluations, plt))
        return "".join(parts)

    def _classes(self, evaluations: dict, plt) -> str:
        """Per class: precision, recall, F1 and support, and the confusion matrix
        plotted (rows: the actual class, columns: the predicted one)."""
        parts = []
        for framework, evaluation in evaluations.items():
            found = evaluation["metrics"].get("per_class")
            if not found:
                continue
            names = list(found["classes"])
            parts.append(f"<h3>{html.escape(framework)}: per class (macro-F1 "
                         f"{found['macro_f1']:.4f})</h3>")
            parts.append(html_table(["class", "precision", "recall", "F1", "eval rows"],
                                [[n, c["precision"], c["recall"], c["f1"], c["support"]]
                                 for n, c in found["classes"].items()]))
            matrix = found["confusion_matrix"]
            figure, axis = plt.subplots(figsize=(1.2 * len(names) + 2, 1.0 * len(names) + 1.5))
            axis.imshow(matrix, cmap="Blues")
            for i, row in enumerate(matrix):
                for j, count in enumerate(row):
                    axis.text(j, i, str(count), ha="center", va="center", fontsize=8)
            axis.set_xticks(range(len(names)), names, fontsize=7, rotation=30)
            axis.set_yticks(range(len(names)), names, fontsize=7)
            axis.set(title=f"{framework}: confusion matrix", xlabel="predicted", ylabel="actual")
            parts.append(png(figure))
        return "".join(parts)

    def _predictions(self, evaluations: dict) -> dict:
        """candidate -> (labels, predictions) the gate scored, where it kept them."""
        from components.evaluate import read_predictions

        found = {}
        for name in evaluations:
            blessing = self.steps[step_ids.evaluate(name)].data.tags.get("sluice.output.blessing")
            scored = read_predictions(blessing) if blessing else None
            if scored is not None:
                found[name] = scored
        return found

    def _residuals(self, predictions: dict, plt) -> str:
        """Regression: predicted against actual, and the residuals' spread."""
        figure, (scatter, spread) = plt.subplots(1, 2, figsize=(10, 4))
        for name, (labels, values) in predictions.items():
            scatter.scatter(labels, values[:, 0], s=4, alpha=0.4, label=name)
        low = min(float(labels.min()) for labels, _ in predictions.values())
        high = max(float(labels.max()) for labels, _ in predictions.values())
        scatter.plot([low, high], [low, high], "k:", linewidth=0.8)
        scatter.set(title="predicted against actual (eval split)", xlabel="actual", ylabel="predicted")
        spread.boxplot([values[:, 0] - labels for labels, values in predictions.values()],
                       labels=list(predictions), showfliers=False)
        spread.axhline(0, color="k", linestyle=":", linewidth=0.8)
        spread.set(title="residuals (predicted - actual)", ylabel="residual")
        scatter.legend()
        return png(figure)

    def _curves(self, evaluations: dict, plt) -> str:
        from sklearn.metrics import roc_curve

        from components.gates.metrics import is_regression

        scored = self._predictions(evaluations)
        if scored and all(is_regression(p) for _, p in scored.values()):
            return self._residuals(scored, plt)
        predictions = {n: found for n, found in scored.items() if found[1].shape[1] == 2}
        if not predictions:
            return "<p>ROC and calibration curves: binary tasks only.</p>"
        figure, (roc, calibration) = plt.subplots(1, 2, figsize=(10, 4))
        for framework, (labels, probs) in predictions.items():
            fpr, tpr, _ = roc_curve(labels, probs[:, 1])
            roc.plot(fpr, tpr, label=framework)
            bins = (probs[:, 1] * 10).clip(0, 9.999).astype(int)
            centers = [probs[bins == b, 1].mean() for b in range(10) if (bins == b).any()]
            observed = [labels[bins == b].mean() for b in range(10) if (bins == b).any()]
            calibration.plot(centers, observed, marker="o", label=framework)
        roc.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        roc.set(title="ROC (eval split)", xlabel="false positive rate", ylabel="true positive rate")
        calibration.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        calibration.set(title="calibration (10 bins)", xlabel="predicted", ylabel="observed")
        roc.legend()
        calibration.legend()
        return png(figure)

    def _slices(self, evaluations: dict, plt) -> str:
        parts = []
        columns = sorted({c for e in evaluations.values() for c in e["metrics"]["slices"]})
        overall = [e["metrics"]["overall"] for e in evaluations.values()]
        shown = ("rmse", "mae") if any("rmse" in o for o in overall) else ("auc", "accuracy")
        for column in columns:
            for metric in shown:
                figure, axis = plt.subplots(figsize=(8, 3))
                width = 0.8 / max(len(evaluations), 1)
                for i, (framework, evaluation) in enumerate(evaluations.items()):
                    values = evaluation["metrics"]["slices"].get(column, {})
                    keys = sorted(values, key=lambda k: (len(k), k))
                    axis.bar([j + i * width for j in range(len(keys))],
                             [values[k][metric] for k in keys], width, label=framework)
                    axis.set_xticks([j + width * (len(evaluations) - 1) / 2 for j in range(len(keys))],
                                    keys, fontsize=7)
                axis.set(title=f"{metric} per {column}", ylabel=metric)
                axis.legend()
                parts.append(png(figure))
        return "".join(parts)

    def decisions_section(self, evaluations: dict) -> str:
        parts = ["<h2>Decisions</h2>"]
        for framework, evaluation in evaluations.items():
            against = evaluation.get("baseline_version") or 0
            parts.append(f"<h3>{framework}: {'BLESSED' if evaluation['blessed'] else 'not blessed'}"
                         f", judged against {'serving version ' + str(against) if against else 'no champion'}</h3>")
            parts.append("<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in evaluation["reasons"])
                         + "</ul>")
        infra = self.steps.get(step_ids.INFRA_VALIDATE)
        if infra is not None:
            parts.append(f"<p><b>Infra validation</b>: {html.escape(infra.data.tags.get('sluice.infra_validation', ''))}</p>")
        decision = self.run.data.tags.get("sluice.push_decision")
        error = self.run.data.tags.get("sluice.error")
        parts.append(f"<p><b>Push</b>: {html.escape(decision or 'push did not run')}</p>")
        if error:
            parts.append(f"<p><b>The run failed</b>: <pre>{html.escape(error)}</pre></p>")
        return "".join(parts)

    def tuning_section(self) -> str:
        """Each tuned candidate's search: its trials, the best point, and the plots its
        tune step logged (the optimization history, the parameters' importance)."""
        from components.tuning.results import HISTORY_PLOT, IMPORTANCE_PLOT

        parts = []
        for name in self.candidates:
            run = self.steps.get(step_ids.tune(name))
            if run is None or "trials" not in run.data.metrics:
                continue
            m, tags = run.data.metrics, run.data.tags
            reused = " (reused from an earlier run: no trial ran)" if tags.get("sluice.state") == "CACHED" else ""
            parts.append(f"<h3>{html.escape(name)}: {int(m['trials'])} trials, {int(m['complete_trials'])} "
                         f"complete, {int(m['pruned_trials'])} pruned, {int(m['failed_trials'])} failed"
                         f"{reused}</h3>")
            if "best_trial" in m:
                parts.append(f"<p>best trial {int(m['best_trial'])}: {html.escape(tags.get('sluice.objective', ''))} "
                             f"{m['best_value']:.4f} on the tuning split, with "
                             f"{html.escape(tags.get('sluice.best_hyperparameters', ''))}</p>")
            with tempfile.TemporaryDirectory() as scratch:
                for plot in (HISTORY_PLOT, IMPORTANCE_PLOT):
                    try:
                        data = Path(self.client.download_artifacts(run.info.run_id, plot, scratch)).read_bytes()
                    except Exception:  # not logged (the step failed before writing it)
                        continue
                    parts.append(f'<img alt="{plot}" src="data:image/png;base64,'
                                 f'{base64.b64encode(data).decode()}">')
        return "<h2>Tuning</h2>" + "".join(parts) if parts else ""

    def lineage_section(self) -> str:
        tags = self.run.data.tags
        keys = ["sluice.data_sha256", "sluice.data_digest", "sluice.span_names", "sluice.schema", "sluice.schema_sha256",
                "sluice.git_commit", "sluice.lock_sha256", "sluice.config", "sluice.trainers",
                "sluice.registered_version"]
        return "<h2>Lineage</h2>" + html_table(["", ""], [[k.removeprefix("sluice."), tags.get(k, "")]
                                                       for k in keys])

    def html(self) -> str:
        evaluations = self.evaluations()
        title = f"sluice run {self.run.info.run_name}"
        started = datetime.datetime.fromtimestamp(self.run.info.start_time / 1000, datetime.timezone.utc)
        # the report is written as the run ends, while MLflow still says RUNNING
        status = "" if self.run.info.status == "RUNNING" else f", {self.run.info.status.lower()}"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
            "padding:3px 8px;font-size:13px}img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>started {started:%Y-%m-%d %H:%M:%S} UTC{status}, "
            f"MLflow run {self.run.info.run_id}</p>"
            + self.data_section() + self.tuning_section() + self.models_section(evaluations)
            + self.decisions_section(evaluations) + self.lineage_section() + "</body></html>")


def write(run_id: str, tracking_uri: str, path: Path) -> Path:
    path.write_text(RunReport(run_id, tracking_uri).html(), encoding="utf-8")
    return path


def log_to_run(run_id: str, tracking_uri: str, home: Path) -> Path:
    """Writes <home>/reports/<run id>.html and logs it to the run as report.html."""
    from mlflow.tracking import MlflowClient

    folder = home / "reports" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = write(run_id, tracking_uri, folder / REPORT_FILE)
    MlflowClient(tracking_uri).log_artifact(run_id, str(path))
    return path
