"""The `sluice` command. Heavy imports happen inside the commands, after the noise of
the stack is silenced, so `sluice --help` answers at once."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

from serving.server import options as serving_options

EXIT_BAD_INPUT, EXIT_ANOMALIES, EXIT_FAILED = 2, 3, 1
EXIT_CANDIDATE_FAILED = 4  # the run finished, but a candidate's trainer module broke the contract
EXIT_NOT_BLESSED = 5  # --strict: the run ended without a blessed candidate


def _paths(args):
    from pipelines.definition.dag import Paths
    from pipelines.run import home_place

    home = Path(args.home).resolve()
    home_place.check(home)
    return Paths(home)


def _tracking_uri(args, paths) -> str:
    return args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or paths.tracking_uri


LAST_CONFIG = "last_config.txt"  # in the home: the config of its latest run


def _config_name(args) -> str:
    """--config if given; for a command run without it, the config of the home's latest
    run (so `sluice lineage --home H` answers about what H holds); else taxi."""
    if args.config:
        return args.config
    if args.command != "run":
        remembered = Path(args.home) / LAST_CONFIG
        path = remembered.read_text().strip() if remembered.is_file() else ""
        if path and Path(path).is_file():
            return path
    return "taxi"


def _load_config(args):
    from sluice_config import config as config_module

    config = config_module.load(_config_name(args))
    if getattr(args, "data", None):
        config = config.replace(data=Path(args.data).resolve())
    if getattr(args, "steps", None):
        config = config.replace(training=dataclasses.replace(config.training, steps=args.steps))
    if getattr(args, "workers", None):
        config = config.replace(training=dataclasses.replace(config.training, workers=args.workers))
    if getattr(args, "accept_drift", False):
        config = config.replace(drift=dataclasses.replace(config.drift, accept=True))
    if getattr(args, "trainer", None):
        config = config.select(args.trainer.split(","))
    return config


def _candidates(config) -> tuple[str, ...]:
    """The names of the candidates this command trains (after --trainer)."""
    return tuple(c.name for c in config.candidates)


def cmd_run(args) -> int:
    from pipelines.runners import local as local_runner

    config = _load_config(args)
    trainers = _candidates(config)
    paths = _paths(args)
    paths.home.mkdir(parents=True, exist_ok=True)
    (paths.home / LAST_CONFIG).write_text(f"{config.source}\n")
    decision = local_runner.run(config, paths, trainers, _tracking_uri(args, paths), args.beam_arg,
                                only=args.only, start_from=args.start_from,
                                orchestrator_run_id=args.run_id, force=args.force, span=args.span)
    log = logging.getLogger("sluice")
    if decision.get("decision"):
        log.info("%s", decision["decision"])
    log.info("MLflow: %s   (browse with: sluice ui --home %s)", _tracking_uri(args, paths), args.home)
    failed = decision.get("failed_candidates") or {}
    for name, reason in failed.items():
        log.error("error: candidate %s was not trained: %s", name, reason)
    if failed:
        return EXIT_CANDIDATE_FAILED
    if (args.strict or config.gate.strict) and "pushed" in decision and not decision.get("blessed"):
        log.error("error: no candidate was blessed (--strict / gate.strict: exit %d, so a "
                  "scheduler marks the run failed)", EXIT_NOT_BLESSED)
        return EXIT_NOT_BLESSED
    return 0


EXIT_NOTHING_NEW = 99  # Airflow's BashOperator marks a task skipped on it (skip_on_exit_code)


def cmd_spans(args) -> int:
    """The spans the config's data pattern matches; with --new, exits 0 and prints the
    newest span's number when it (or a new version of it) was not judged by a run yet,
    else exits 99: the cheap first task of a scheduled DAG. Imports no TensorFlow."""
    from pipelines.run import span_window
    from sluice_config import spans
    from sluice_config.errors import ConfigError

    config, paths = _load_config(args), _paths(args)
    if not spans.is_pattern(config.data):
        raise ConfigError(f"data: {config.data} is one file, not a pattern of spans "
                          "({SPAN}, {YYYY}-{MM}-{DD}, {VERSION}); see the README's 'Spans'.")
    found = spans.find(config.data)
    if args.action == "accept":
        return _accept_span(args, paths, found)
    if not args.new:
        for span in found:
            print(f"{span.name}: {', '.join(str(f) for f in span.files)}")
        return 0
    newest = spans.select(found, None, 1, str(config.data))[-1]
    if not span_window.is_new(paths.home, newest):
        print(f"nothing new: {newest.name} was judged already", file=sys.stderr)
        return EXIT_NOTHING_NEW
    print(newest.number)
    return 0


def _accept_span(args, paths, found) -> int:
    """`sluice spans accept N --reason`: a span that stopped at the data gate (or changed
    in place) is taken as it is now, recorded with who and why."""
    import getpass

    from pipelines.run import span_ledger, span_window
    from sluice_config.errors import ConfigError

    if args.number is None or not args.reason:
        raise ConfigError("sluice spans accept N --reason \"...\": name the span and say why.")
    span = next((s for s in found if s.number == args.number), None)
    if span is None:
        raise ConfigError(f"no span {args.number}; spans found: "
                          f"{', '.join(str(s.number) for s in found[-10:])}.")
    entry = span_ledger.accept(paths.home, span_window.record_of(paths.home, span), args.reason,
                               args.by or getpass.getuser())
    print(f"{span.name} accepted as it is (sha256 {entry['sha256'][:16]}…): later windows hold it "
          "again (the data gate still measures it: where it drifts as the newest span, run "
          "with --accept-drift)")
    return 0


def cmd_lineage(args) -> int:
    from pipelines.lineage.champion_report import champion_report

    paths = _paths(args)
    print(champion_report(_load_config(args).model_name, _tracking_uri(args, paths), args.version))
    return 0


def cmd_reproduce(args) -> int:
    from pipelines.lineage.reproduce import reproduce

    paths = _paths(args)
    target = args.target or f"{_load_config(args).model_name}@champion"
    result = reproduce(target, _tracking_uri(args, paths), Path(args.data) if args.data else None)
    log = logging.getLogger("sluice")
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

    paths = _paths(args)
    output = Path(args.output or f"report-{args.run_id}.html")
    run_report.write(args.run_id, _tracking_uri(args, paths), output)
    print(f"wrote {output}")
    return 0


def cmd_ui(args) -> int:
    """Exec `mlflow ui` on the home's store, first printing the link to open: MLflow 3's
    UI opens every experiment on its GenAI pages unless the URL asks for the model
    training view (a per-browser setting; the experiment's kind tag does not decide it)."""
    import mlflow

    paths = _paths(args)
    uri = _tracking_uri(args, paths)
    experiment = mlflow.MlflowClient(uri).get_experiment_by_name(f"sluice-{_load_config(args).name}")
    where = f"experiments/{experiment.experiment_id}/runs" if experiment else "experiments"
    print(f"open http://{args.host}:{args.port}/#/{where}?workflowType=machine_learning", flush=True)
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(str(bin_dir / "mlflow"), ["mlflow", "ui", "--backend-store-uri", uri,
                                       "--host", args.host, "--port", str(args.port)])


def cmd_schema_infer(args) -> int:
    import tempfile

    from components.infer_schema import diff_schemas, infer_schema, load_schema, write_schema
    from sluice_config import spans

    config = _load_config(args)
    with tempfile.TemporaryDirectory() as scratch:
        data = _schema_data(config, args.span, Path(scratch))
        inferred = infer_schema(data, {f.name: f.buckets for f in config.features
                                       if f.kind == "identity"})
    curated = load_schema(config.schema) if config.schema.is_file() else None  # before writing
    if args.output:
        write_schema(inferred, Path(args.output))
        print(f"wrote {args.output}")
    if curated is None:
        print(f"no curated schema at {config.schema} yet: nothing to compare with. Review the "
              "inferred schema, save it there and check it in.")
        return 0
    lines = diff_schemas(curated, inferred)
    print(f"{data if not spans.is_pattern(config.data) else config.data} vs curated {config.schema} "
          "(as it was before this command):")
    print("\n".join(lines) if lines else "  no differences")
    return 0


def _schema_data(config, span: str | None, scratch: Path) -> Path:
    """The file a schema is inferred from: the config's CSV; for a pattern of spans the
    newest span (or --span N, or FIRST..LAST), its files joined under scratch."""
    import csv

    from pipelines.run import span_window
    from sluice_config import spans

    if not spans.is_pattern(config.data):
        return config.data
    chosen = spans.select(spans.find(config.data), span, 1, str(config.data))
    files = [f for s in chosen for f in s.files]
    if len(files) == 1:
        return files[0]
    with open(files[0], newline="") as handle:
        header = next(csv.reader(handle))
    return span_window.joined(files, header, scratch)


def cmd_drift(args) -> int:
    """`sluice drift show` names the references the next run's drift gate measures
    against; `sluice drift pin [--to V]` pins the reference to a version's data."""
    import getpass

    from components import drift_reference

    config, paths = _load_config(args), _paths(args)
    name, serving_dir = config.model_name, paths.serving_dir
    if args.drift_command == "pin":
        try:
            entry = drift_reference.pin(serving_dir, name, args.to, args.by or getpass.getuser(),
                                        args.reason or "")
        except ValueError as err:
            logging.getLogger("sluice").error("drift pin: %s", err)
            return EXIT_BAD_INPUT
        print(f"{name}: the drift reference is now version {entry['version']}'s data "
              f"({entry['statistics_uri']})")
        return 0
    found = drift_reference.references(serving_dir, name, config.drift.reference)
    print(f"{name}: drift.reference is {config.drift.reference}; the next run measures against:")
    print("\n".join(f"  {r['name']}: {r['statistics_uri']}" for r in found) or
          "  nothing yet (no version pushed)")
    return 0


def cmd_serve(args) -> int:
    serving_dir = Path(args.serving_dir) if args.serving_dir else _paths(args).serving_dir
    serving_options.serve(serving_dir, args)
    return 0


def cmd_predict(args) -> int:
    """Scores a CSV (or a glob of them) with a registered model version; the output
    is written whole or not at all, and the job is recorded in MLflow."""
    import time
    import traceback

    from pipelines.lineage import batch_predictions
    from pipelines.run import run_log, scoring_preflight
    from pipelines.runners.local import local_beam_args
    from serving.batch import output as batch_output
    from serving.model_format.layout import FeatureLayout

    paths = _paths(args)
    uri = _tracking_uri(args, paths)
    target = args.model or f"{_load_config(args).model_name}@champion"
    model = batch_predictions.resolve(target, uri, paths.home / "models")
    layout = FeatureLayout.load(model.model_dir)
    keep = tuple(args.keep)
    scoring = scoring_preflight.check(args.data, layout.raw_features, keep,
                                      f"model {model.name} version {model.version}")
    out = Path(args.output).resolve()
    fmt = batch_output.format_of(out, args.format)
    beam_args = local_beam_args(scoring.rows, args.beam_arg)
    log = logging.getLogger("sluice")
    log.info("predict: %s rows of %s with %s version %s (%s)", f"{scoring.rows:,}", args.data,
             model.name, model.version, layout.candidate or layout.framework)
    log_file = run_log.start(paths.home, f"predict-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    started = time.perf_counter()
    try:
        rows = _score(model, scoring, out, fmt, keep, beam_args)
    except Exception as err:
        run_log.write_traceback(log_file, traceback.format_exc())
        err.sluice_log = log_file
        raise
    finally:
        run_log.stop(log_file)
    seconds = time.perf_counter() - started
    run_id = batch_predictions.record(model, os.path.abspath(args.data), scoring, out, fmt, keep, rows,
                                      seconds, beam_args)  # absolute: the record outlives the folder
    log.info("predict: wrote %s rows to %s in %.1f s (%s rows/s); MLflow run %s", f"{rows:,}", out,
             seconds, f"{rows / max(seconds, 1e-9):,.0f}", run_id)
    return 0


def _score(model, scoring, out, fmt, keep, beam_args) -> int:
    from serving.batch import pipeline as batch_pipeline

    job = batch_pipeline.BatchJob(model.model_dir, model.name, model.version, scoring.files,
                                  scoring.headers, scoring.rows, out, fmt, keep)
    return batch_pipeline.run(job, beam_args)


def cmd_monitor(args) -> int:
    """Compares served rows with the training data of the version serving now (or
    --version); exits 3 when a bound is crossed, so a scheduler can alert or retrain."""
    import time

    from components import drift, evaluate, serving_skew
    from pipelines.lineage import monitor_report
    from pipelines.lineage.batch_predictions import ModelNotFound
    from pipelines.lineage.mlflow_record import registered_versions
    from pipelines.run import served_rows
    from serving.model_format import versions as push_target
    from serving.model_format.layout import FeatureLayout

    config, paths = _load_config(args), _paths(args)
    name, serving_dir = config.model_name, paths.serving_dir
    version_dir = (serving_dir / name / str(args.version) if args.version
                   else push_target.current_version(serving_dir, name))
    if version_dir is None or not (version_dir / push_target.PUSH_MARKER).is_file():
        raise ModelNotFound(f"no {'version ' + str(args.version) if args.version else 'version'} "
                            f"of {name} is served in {serving_dir}; monitor compares served rows "
                            "with the training data of a pushed version.")
    pushed = push_target.push_record(version_dir)
    layout = FeatureLayout.load(version_dir)
    logged = ["prediction"] if layout.regression else [f"p_{c}" for c in layout.classes]
    frame, answers, sources = served_rows.load(args.data, name, layout.raw_features, args.since, logged)
    if answers is None:
        from serving.model_format.model import ServableModel

        answers = ServableModel(version_dir).predict(
            {n: frame[n].where(frame[n].notna(), None).tolist() for n in layout.raw_features})
    uri = _tracking_uri(args, paths)
    registered = registered_versions(name, uri)
    mv = registered.get(str(version_dir)) or next(  # a home moved since: by the version pushed
        (v for v in registered.values() if v.tags.get("sluice.serving_version") == version_dir.name), None)
    schema = _trained_schema(mv, config, paths)
    found = evaluate.read_predictions(pushed["blessing_uri"])
    report = serving_skew.measure(frame, pushed["statistics_uri"], str(schema), config.drift_bounds(),
                                  answers, found[1] if found else None, config.drift.numeric)
    output = Path(args.output or paths.home / "reports" / f"monitor-{time.strftime('%Y%m%d-%H%M%S')}.html")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(monitor_report.render(report, frame, name, str(pushed.get("version", "")), sources,
                                            args.since))
    import mlflow

    experiment = mlflow.MlflowClient().get_experiment_by_name(f"sluice-{config.name}")
    run_id = monitor_report.record(name, mv.version if mv else f"serving {version_dir.name}",
                                   experiment.experiment_id if experiment else "0", report, args.data,
                                   args.since, output)
    log = logging.getLogger("sluice")
    log.info("monitor: %s served rows against version %s's training data; report %s; MLflow run %s",
             f"{report.rows:,}", version_dir.name, output, run_id)
    if not report.crossed:
        log.info("monitor: every feature and the predictions are within the bounds")
        return 0
    crossed = [r for r in [*report.features, report.prediction] if r.get("drifted")]
    log.error("monitor: bounds crossed: %s\n%s%s", ", ".join(report.crossed), drift.format_table(crossed),
              "".join(f"\n  {f}: {d}" for f, d in report.anomalies.items()))
    return EXIT_ANOMALIES


def _trained_schema(mv, config, paths) -> Path:
    """The schema the version was validated with, from its pipeline run's record: the
    config's schema file may have been edited since. The config's file when the version
    is not registered or its record holds no matching copy."""
    import mlflow

    from pipelines.lineage.mlflow_record import recorded_schema

    if mv is not None and mv.tags.get("sluice.run_id"):
        found = recorded_schema(mlflow.MlflowClient(), mv.tags["sluice.run_id"],
                                mv.tags.get("sluice.schema", ""), mv.tags.get("sluice.schema_sha256", ""),
                                paths.home / "models" / "schemas" / str(mv.version))
        if found is not None:
            return found
    logging.getLogger("sluice").warning("monitor: no recorded schema for this version; using %s", config.schema)
    return config.schema


def cmd_models(args) -> int:
    from components import bounds_today
    from pipelines.lineage.mlflow_record import champion_version, registered_versions
    from serving.model_format import versions as push_target

    config, paths = _load_config(args), _paths(args)
    name, serving_dir = config.model_name, paths.serving_dir
    live = push_target.versions(serving_dir, name)
    registered = registered_versions(name, _tracking_uri(args, paths))
    champion = champion_version(name, _tracking_uri(args, paths))
    aside_since = {v: entry for entry in push_target.rollback_history(serving_dir, name)
                   for v in entry["moved_aside"]}
    rows = [(v, serving_dir / name / str(v), "serving" if v == live[-1] else "in service")
            for v in live]
    rows += [(v, serving_dir / name / push_target.ROLLED_BACK / str(v),
              f"rolled back {aside_since[v]['at']}" if v in aside_since else "rolled back")
             for v in push_target.rolled_back(serving_dir, name)]
    if not rows:
        print(f"no pushed versions of {name} in {serving_dir}")
        return 0
    print(f"{name} in {serving_dir}")
    for version, path, state in sorted(rows):
        record = push_target.push_record(path)
        mv = registered.get(str(serving_dir / name / str(version)))
        lineage = (f"mlflow v{mv.version}{' (champion)' if mv.version == champion else ''} "
                   f"run {mv.tags.get('sluice.run_id', '?')[:8]}" if mv else "not in MLflow")
        if mv and mv.tags.get("sluice.span_names"):
            lineage += f" on {mv.tags['sluice.span_names']}"
        why = f"  [{aside_since[version]['reason']}]" if version in aside_since else ""
        failing = bounds_today.failing_checks(path, config.gate)
        if failing:
            why += f"  [fails today's bounds: {'; '.join(failing[:2])}]"
        made_by = f"{record.get('candidate', record.get('framework', '?'))} ({record.get('framework', '?')})"
        print(f"  {version:>3}  {state:<35} {made_by:<20} {lineage}  "
              f"{record.get('reason', '')}{why}")
    return 0


def cmd_rollback(args) -> int:
    import getpass

    from pipelines.lineage.mlflow_record import move_champion, registered_versions
    from serving.model_format import versions as push_target

    config, paths = _load_config(args), _paths(args)
    name, serving_dir = config.model_name, paths.serving_dir
    log = logging.getLogger("sluice")
    who = args.by or getpass.getuser()
    with push_target.push_lock(serving_dir, name):  # no push may interleave
        try:
            _, target = push_target.rollback_target(serving_dir, name, args.to)
        except ValueError as err:
            log.error("rollback: %s", err)
            return EXIT_BAD_INPUT
        registered = registered_versions(name, _tracking_uri(args, paths))
        if not args.reason and str(serving_dir / name / str(target)) in registered:
            log.error("rollback: --reason is required: serving version %s moves the MLflow "
                      "'champion' alias, and the reason is recorded with it", target)
            return EXIT_BAD_INPUT
        why = args.reason or "manual rollback"
        old, new = push_target.roll_back(serving_dir, name, target, who, why)
        mlflow_version = move_champion(
            name, _tracking_uri(args, paths), serving_dir / name / str(new),
            serving_dir / name / str(old), who, why)
    moved = push_target.rollback_history(serving_dir, name)[-1]
    aside = ", ".join(map(str, moved["moved_aside"]))
    what = (f"version(s) {aside} moved to {serving_dir / name / push_target.ROLLED_BACK}" if aside
            else f"nothing moved aside: version {old} stays on disk, older than {new}")
    if moved["restored"]:
        what = f"brought back from {push_target.ROLLED_BACK}; {what}"
    print(f"{name}: version {new} is served ({'forward' if new > old else 'back'} from {old}; "
          f"{what}); "
          + (f"MLflow champion -> version {mlflow_version}" if mlflow_version
             else "no MLflow version is registered for it, alias unchanged"))
    return 0


def cmd_compile(args) -> int:
    config, paths = _load_config(args), _paths(args)
    trainers = _candidates(config)
    if args.target == "airflow":
        from pipelines.runners import airflow

        spec = airflow.compile_dag(config, paths, trainers, Path(args.output).resolve(),
                                   schedule=args.schedule, retries=args.retries,
                                   retry_delay_seconds=args.retry_delay,
                                   tracking_uri=args.tracking_uri, steps=args.steps,
                                   workers=args.workers,
                                   beam_args=args.beam_arg)
        print(f"wrote {spec} and {spec.parent / 'sluice_dags.py'} (DAG sluice_{config.name})")
    else:
        from pipelines.runners import kubeflow

        output = kubeflow.compile_job(config, paths, trainers, Path(args.output).resolve(),
                                      image=args.image, beam_args=args.beam_arg,
                                      pipeline_root=args.pipeline_root)
        print(f"wrote {output} (Kubeflow Pipelines v2 job, image {args.image})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=(
        "TFX pipelines where Keras and PyTorch are equal citizens, recorded in MLflow."))
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--config", help="bundled config name or YAML path (default for run: "
                                         "taxi; for the others: the config of the home's "
                                         "latest run, else taxi)")
        p.add_argument("--home", default=os.environ.get("SLUICE_HOME", "sluice_home"),
                       help="folder for pipeline outputs, metadata, MLflow store, serving dir "
                            "(default: $SLUICE_HOME or ./sluice_home)")
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                                              "else a SQLite store in --home)")

    run = sub.add_parser("run", help="run the whole pipeline")
    common(run)
    run.add_argument("--trainer", default="all", metavar="NAME[,NAME]",
                     help="the candidates to train (the config's names; a framework's name picks "
                          "its candidates; all or both: every one)")
    run.add_argument("--data", help="CSV (or a pattern of spans) to use instead of the config's")
    run.add_argument("--span", metavar="N|FIRST..LAST",
                     help="where data is a pattern of spans: train up to span N (a number or "
                          "YYYY-MM-DD; training.window spans), or on the spans of a range "
                          "(default: up to the newest)")
    run.add_argument("--steps", type=int, help="training steps (overrides the config)")
    run.add_argument("--workers", type=int,
                       help="training worker processes, Keras and PyTorch (overrides the config)")
    run.add_argument("--beam-arg", action="append", default=[],
                     help="extra Beam pipeline argument (repeatable)")
    steps = run.add_mutually_exclusive_group()
    steps.add_argument("--only", metavar="STEP",
                       help="run just this step, reusing the latest outputs of the steps before it")
    steps.add_argument("--from", dest="start_from", metavar="STEP",
                       help="run this step and everything after it (resume after a fix)")
    run.add_argument("--force", action="store_true",
                     help="run even if nothing changed since the last successful run "
                          "(unchanged steps still come from TFX's cache)")
    run.add_argument("--strict", action="store_true",
                     help=f"exit {EXIT_NOT_BLESSED} when the run ends without a blessed candidate "
                          "(a scheduler then marks it failed; gate.strict in the config does the same)")
    run.add_argument("--accept-drift", action="store_true",
                     help="let drift beyond the config's bounds through for this run (the "
                          "acceptance is recorded in MLflow as drift.accept)")
    run.add_argument("--run-id", help="orchestrator run id: the tasks of one DAG run share one "
                                      "MLflow parent run")
    run.set_defaults(func=cmd_run)

    spans_ = sub.add_parser("spans", help="list the spans of the config's data pattern; --new: "
                                           "exit 0 if a span arrived that no run judged yet, else 99")
    common(spans_)
    spans_.add_argument("--data", help="a pattern of spans to use instead of the config's")
    spans_.add_argument("--new", action="store_true", help="print the newest span if it is new, "
                                                           "else exit 99 (a scheduler's check)")
    spans_.add_argument("action", nargs="?", choices=("accept",),
                        help="accept N: take span N as it is (it stopped at the data gate, or "
                             "changed in place), recorded with --reason")
    spans_.add_argument("number", nargs="?", type=int, help="the span's number")
    spans_.add_argument("--reason", help="accept: why, recorded with it")
    spans_.add_argument("--by", help="accept: who (default: the current user)")
    spans_.set_defaults(func=cmd_spans)

    lineage = sub.add_parser("lineage", help="show what produced the champion model and why it was blessed")
    common(lineage)
    lineage.add_argument("--version", help="registered model version (default: the champion)")
    lineage.set_defaults(func=cmd_lineage)

    repro = sub.add_parser("reproduce", help="re-run a registered model's recorded commit, config "
                                               "and data in a scratch home and compare")
    repro.add_argument("target", nargs="?",
                       help="MODEL@ALIAS, MODEL/VERSION or a pipeline run id (default: the "
                            "champion of the home's latest config)")
    common(repro)
    repro.add_argument("--data", help="the original data file, if it moved")
    repro.set_defaults(func=cmd_reproduce)

    report = sub.add_parser("report", help="rebuild a pipeline run's HTML report from its record")
    report.add_argument("run_id", help="the MLflow parent run id")
    common(report)
    report.add_argument("-o", "--output", help="file to write (default: report-<run id>.html)")
    report.set_defaults(func=cmd_report)

    ui = sub.add_parser("ui", help="start the MLflow UI on the local store")
    common(ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=cmd_ui)

    serve = sub.add_parser("serve", help="serve pushed models over TF Serving's REST and gRPC APIs")
    common(serve)
    serve.add_argument("--serving-dir", help="folder of <model>/<version>/ (default: <home>/serving)")
    serving_options.add_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    predict = sub.add_parser("predict", help="score a CSV file (or a glob of them) with a "
                                              "registered model version, recorded in MLflow")
    predict.add_argument("model", nargs="?", metavar="MODEL@ALIAS|MODEL/VERSION",
                         help="e.g. models:/sluice-taxi@champion or sluice-taxi/3 (default: the "
                              "champion of the home's latest config)")
    common(predict)
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
    predict.set_defaults(func=cmd_predict)

    monitor = sub.add_parser("monitor", help="compare served rows (a request log, scored files) "
                                              "with the champion's training data; exit 3 on skew")
    common(monitor)
    monitor.add_argument("--data", required=True, metavar="PATH",
                         help="a request log folder (sluice serve --request-log), a CSV, a glob or "
                              "a folder of CSVs of served rows")
    monitor.add_argument("--since", help="only rows with a recent 'time': 30m, 24h, 7d or an ISO time")
    monitor.add_argument("--version", type=int, help="the pushed version to judge against (default: "
                                                     "the one serving now)")
    monitor.add_argument("-o", "--output", help="HTML report (default: <home>/reports/monitor-<time>.html)")
    monitor.set_defaults(func=cmd_monitor)

    models = sub.add_parser("models", help="list pushed versions with their MLflow lineage")
    common(models)
    models.set_defaults(func=cmd_models)

    rollback = sub.add_parser("rollback", help="serve a previous version again and move the champion alias")
    common(rollback)
    rollback.add_argument("--to", type=int, help="version to serve: any pushed version still on "
                                                 "disk, older or newer, in service or rolled "
                                                 "back (default: the one before the newest)")
    rollback.add_argument("--reason", help="why, recorded in MLflow and rollbacks.jsonl "
                                           "(required when it moves the champion alias)")
    rollback.add_argument("--by", help="who, recorded in MLflow (default: the current user)")
    rollback.set_defaults(func=cmd_rollback)

    compile_ = sub.add_parser("compile", help="compile the pipeline for Airflow or Kubeflow Pipelines")
    compile_.add_argument("target", choices=("airflow", "kubeflow"))
    common(compile_)
    compile_.add_argument("-o", "--output", required=True,
                          help="airflow: the DAGs folder; kubeflow: the JSON file to write")
    compile_.add_argument("--trainer", default="all", metavar="NAME[,NAME]",
                          help="the candidates to train, as for run")
    compile_.add_argument("--data", help="CSV to use instead of the config's")
    compile_.add_argument("--steps", type=int, help="training steps (overrides the config)")
    compile_.add_argument("--workers", type=int,
                       help="training worker processes, Keras and PyTorch (overrides the config)")
    compile_.add_argument("--schedule", default="@daily", help="airflow: schedule (default: @daily)")
    compile_.add_argument("--retries", type=int, default=2, help="airflow: retries per task")
    compile_.add_argument("--retry-delay", type=int, default=60, help="airflow: seconds between retries")
    compile_.add_argument("--image", default="sluice:latest", help="kubeflow: container image of every step")
    compile_.add_argument("--beam-arg", action="append", default=[],
                          help="Beam argument for every data step (repeatable), e.g. --beam-arg=--runner=DataflowRunner")
    compile_.add_argument("--pipeline-root", help="kubeflow: pipeline root the cluster writes to")
    compile_.set_defaults(func=cmd_compile)

    drift = sub.add_parser("drift", help="the drift gate's reference data: show it, pin it")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True)
    show = drift_sub.add_parser("show", help="the references the next run measures drift against")
    common(show)
    show.set_defaults(func=cmd_drift)
    pin = drift_sub.add_parser("pin", help="pin the drift reference to a version's data")
    common(pin)
    pin.add_argument("--to", type=int, help="version whose training data becomes the reference "
                                            "(default: the version serving now)")
    pin.add_argument("--reason", help="why, recorded with the pin")
    pin.add_argument("--by", help="who (default: the current user)")
    pin.set_defaults(func=cmd_drift)

    schema = sub.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_sub.add_parser("infer", help="infer a fresh schema and diff it with the curated one")
    common(infer)
    infer.add_argument("--data", help="CSV to infer from (default: the config's)")
    infer.add_argument("--span", metavar="N|FIRST..LAST",
                       help="where data is a pattern of spans: infer from these (default: the newest)")
    infer.add_argument("-o", "--output", help="also write the inferred schema here")
    infer.set_defaults(func=cmd_schema_infer)
    return parser


def _exit_code(err: Exception) -> int:
    """Logs err as the user should read it; -> the exit code. The error classes are
    imported only now: importing them up front cost every command ~2 s."""
    from components.anomalies import DataAnomaliesError
    from components.drift import DataDriftError
    from pipelines.lineage.batch_predictions import ModelNotFound
    from pipelines.lineage.reproduce import ReproductionRefused
    from pipelines.run.preflight import DataError
    from sluice_config.errors import ConfigError

    log = logging.getLogger("sluice")
    if isinstance(err, (ConfigError, DataError, ReproductionRefused, ModelNotFound)):
        log.error("error: %s", err)
        return EXIT_BAD_INPUT
    if isinstance(err, (DataAnomaliesError, DataDriftError)):
        log.error("data gate: %s", err)
        return EXIT_ANOMALIES
    log.error("pipeline failed: %s: %s", type(err).__name__, err)
    return EXIT_FAILED


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from pipelines.patches.quiet import configure_environment, quiet_loggers

    configure_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    quiet_loggers()
    log = logging.getLogger("sluice")
    try:
        return args.func(args)
    except Exception as err:
        code = _exit_code(err)
        if getattr(err, "sluice_log", None):
            log.error("full log and traceback: %s", err.sluice_log)
        return code


if __name__ == "__main__":
    sys.exit(main())
