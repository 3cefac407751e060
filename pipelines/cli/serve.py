"""The commands around served models: `sluice serve` (TF Serving's REST and gRPC APIs),
`sluice predict` (batch scoring on Beam) and `sluice monitor` (served rows against the
training data)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from pipelines.cli.common import EXIT_ANOMALIES, add_common, load_config, paths, tracking_uri
from pipelines.run import portable_cluster
from serving.server import options as serving_options

log = logging.getLogger("sluice")


def cmd_serve(args) -> int:
    """A home's versions about to answer traffic are first made to have their registered
    versions (pipelines.lineage.push_recovery); a --serving-dir is checked only against
    a store named with --tracking-uri or MLFLOW_TRACKING_URI. A failing registry delays
    nothing: serving starts, and the warning says why the registry lags."""
    if args.serving_dir and not (args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")):
        serving_options.serve(Path(args.serving_dir), args)
        return 0
    home = paths(args)
    serving_dir = Path(args.serving_dir) if args.serving_dir else home.serving_dir
    try:
        from pipelines.lineage import push_recovery

        push_recovery.recover(serving_dir, tracking_uri(args, home), "sluice serve")
    except Exception as err:  # noqa: BLE001 - serving starts regardless
        log.warning("registry: pushed versions not checked against MLflow: %s: %s", type(err).__name__, err)
    serving_options.serve(serving_dir, args)
    return 0


def cmd_predict(args) -> int:
    from pipelines.jobs.predict import PredictJob, predict

    beam_args = portable_cluster.from_arguments(args)
    portable_cluster.check(beam_args)
    home = paths(args)
    target = args.model or f"{load_config(args).model_name}@champion"
    job = PredictJob(target, args.data, Path(args.output), args.format, tuple(args.keep), beam_args)
    predict(job, home.home, tracking_uri(args, home))
    return 0


def cmd_monitor(args) -> int:
    """Exits 3 when a bound is crossed, so a scheduler can alert or retrain."""
    from components.gates import drift
    from pipelines.jobs.monitor import MonitorJob, monitor

    home = paths(args)
    job = MonitorJob(args.data, args.since, args.version, Path(args.output) if args.output else None)
    report = monitor(job, load_config(args), home, tracking_uri(args, home))
    if not report.crossed:
        log.info("monitor: every feature and the predictions are within the bounds")
        return 0
    crossed = [r for r in [*report.features, report.prediction] if r.get("drifted")]
    log.error("monitor: bounds crossed: %s\n%s%s", ", ".join(report.crossed), drift.format_table(crossed),
              "".join(f"\n  {f}: {d}" for f, d in report.anomalies.items()))
    return EXIT_ANOMALIES


def add_commands(sub) -> None:
    serve = sub.add_parser("serve", help="serve pushed models over TF Serving's REST and gRPC APIs")
    add_common(serve)
    serve.add_argument("--serving-dir", help="folder of <model>/<version>/ (default: <home>/serving)")
    serving_options.add_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    predict = sub.add_parser("predict", help="score a CSV file (or a glob of them) with a "
                                             "registered model version, recorded in MLflow")
    predict.add_argument("model", nargs="?", metavar="MODEL@ALIAS|MODEL/VERSION",
                         help="e.g. models:/sluice-taxi@champion or sluice-taxi/3 (default: the "
                              "champion of the home's latest config)")
    add_common(predict)
    predict.add_argument("--data", required=True, metavar="FILE_OR_GLOB",
                         help="CSV file(s) with the model's raw feature columns")
    predict.add_argument("-o", "--output", required=True, help="file to write (replaced only "
                                                               "when the whole job succeeds)")
    predict.add_argument("--format", choices=("csv", "parquet", "tfrecord"),
                         help="output format (default: from the output's suffix, else csv)")
    predict.add_argument("--keep", action="append", default=[], metavar="COL",
                         help="an input column to copy to the output, e.g. an id (repeatable)")
    predict.add_argument("--beam-arg", action="append", default=[],
                         help="extra Beam pipeline argument (repeatable), as for run")
    portable_cluster.add_arguments(predict)
    predict.set_defaults(func=cmd_predict)

    monitor = sub.add_parser("monitor", help="compare served rows (a request log, scored files) "
                                             "with the champion's training data; exit 3 on skew")
    add_common(monitor)
    monitor.add_argument("--data", required=True, metavar="PATH",
                         help="a request log folder (sluice serve --request-log), a CSV, a glob or "
                              "a folder of CSVs of served rows")
    monitor.add_argument("--since", help="only rows with a recent 'time': 30m, 24h, 7d or an ISO time")
    monitor.add_argument("--version", type=int, help="the pushed version to judge against (default: "
                                                     "the one serving now)")
    monitor.add_argument("-o", "--output", help="HTML report (default: <home>/reports/monitor-<time>.html)")
    monitor.set_defaults(func=cmd_monitor)
