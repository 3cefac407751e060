"""The model and record commands: `sluice models`, `rollback`, `lineage`, `reproduce`,
`report` and `ui` (the MLflow UI on the home's store)."""
from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path

from pipelines.cli.common import EXIT_FAILED, add_common, add_who_and_why, load_config, paths, tracking_uri

log = logging.getLogger("sluice")


def cmd_models(args) -> int:
    from pipelines.jobs.versions_table import version_table

    home = paths(args)
    print("\n".join(version_table(load_config(args), home, tracking_uri(args, home))))
    return 0


def cmd_rollback(args) -> int:
    from pipelines.jobs.rollback import roll_back

    home = paths(args)
    print(roll_back(load_config(args), home, tracking_uri(args, home), args.to, args.reason,
                    args.by or getpass.getuser()))
    return 0


def cmd_lineage(args) -> int:
    from pipelines.lineage.champion_report import champion_report

    home = paths(args)
    print(champion_report(load_config(args).model_name, tracking_uri(args, home), args.version))
    return 0


def cmd_reproduce(args) -> int:
    from pipelines.lineage.reproduce import reproduce

    home = paths(args)
    target = args.target or f"{load_config(args).model_name}@champion"
    result = reproduce(target, tracking_uri(args, home), Path(args.data) if args.data else None)
    log.info("%s version %s (commit %s) re-run in %s", result["model"], result["version"],
             result["commit"][:12], result["scratch"])
    log.info("predictions on %s eval rows differ by up to %.2e; metrics by %s",
             result["rows"], result["max_prediction_difference"],
             ", ".join(f"{m} {d:.2e}" for m, d in result["metric_differences"].items()))
    if result["exact"]:
        log.info("reproduced exactly (tolerance %g); recorded on the model version", 1e-6)
        return 0
    if result["reproduced"]:
        log.warning("%s; recorded on the model version", result["result"])
        return 0
    log.error("NOT reproduced: %s", result["result"])
    return EXIT_FAILED


def cmd_report(args) -> int:
    from pipelines.lineage import run_report

    home = paths(args)
    output = Path(args.output or f"report-{args.run_id}.html")
    run_report.write(args.run_id, tracking_uri(args, home), output)
    print(f"wrote {output}")
    return 0


def cmd_ui(args) -> int:
    """Exec `mlflow ui` on the home's store, first printing the link to open: MLflow 3's
    UI opens every experiment on its GenAI pages unless the URL asks for the model
    training view (a per-browser setting; the experiment's kind tag does not decide it)."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(args, paths(args))
    experiment = MlflowClient(uri).get_experiment_by_name(load_config(args).experiment_name)
    where = f"experiments/{experiment.experiment_id}/runs" if experiment else "experiments"
    print(f"open http://{args.host}:{args.port}/#/{where}?workflowType=machine_learning", flush=True)
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(str(bin_dir / "mlflow"), ["mlflow", "ui", "--backend-store-uri", uri,
                                       "--host", args.host, "--port", str(args.port)])


def add_commands(sub) -> None:
    models = sub.add_parser("models", help="list pushed versions with their MLflow lineage")
    add_common(models)
    models.set_defaults(func=cmd_models)

    rollback = sub.add_parser("rollback", help="serve a previous version again and move the champion alias")
    add_common(rollback)
    rollback.add_argument("--to", type=int, help="version to serve: any pushed version still on "
                                                 "disk, older or newer, in service or rolled "
                                                 "back (default: the one before the newest)")
    add_who_and_why(rollback, "why, recorded in MLflow and rollbacks.jsonl (required when it moves "
                              "the champion alias)", "who, recorded in MLflow (default: the current user)")
    rollback.set_defaults(func=cmd_rollback)

    lineage = sub.add_parser("lineage", help="show what produced the champion model and why it was blessed")
    add_common(lineage)
    lineage.add_argument("--version", help="registered model version (default: the champion)")
    lineage.set_defaults(func=cmd_lineage)

    repro = sub.add_parser("reproduce", help="re-run a registered model's recorded commit, config "
                                             "and data in a scratch home and compare")
    repro.add_argument("target", nargs="?",
                       help="MODEL@ALIAS, MODEL/VERSION or a pipeline run id (default: the "
                            "champion of the home's latest config)")
    add_common(repro)
    repro.add_argument("--data", help="the original data file, if it moved")
    repro.set_defaults(func=cmd_reproduce)

    report = sub.add_parser("report", help="rebuild a pipeline run's HTML report from its record")
    report.add_argument("run_id", help="the MLflow parent run id")
    add_common(report)
    report.add_argument("-o", "--output", help="file to write (default: report-<run id>.html)")
    report.set_defaults(func=cmd_report)

    ui = sub.add_parser("ui", help="start the MLflow UI on the local store")
    add_common(ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=cmd_ui)
