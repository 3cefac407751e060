"""Runs the pipeline locally: TFX LocalDagRunner on Beam's DirectRunner, with the step
log, the run's log file and the MLflow record around it. No pipeline logic lives here.

Each run has its own TFX pipeline run id, so its step log and MLflow record describe
its own executions even when another run works on the same home at the same time."""
from __future__ import annotations

import datetime
import logging
import os
import traceback
import uuid

from components.reports import step_reports
from pipelines.definition.dag import create_pipeline
from pipelines.definition.home_layout import Paths
from pipelines.lineage import mlmd
from pipelines.run import home_place, run_log, span_ledger, span_window, step_log, up_to_date
from pipelines.run.beam_args import local_beam_args
from serving.server import standby
from sluice_config import run_context, step_ids
from sluice_config.config import PipelineConfig

log = logging.getLogger("sluice")
class PipelineFailed(RuntimeError):
    """The pipeline stopped; the message says which step and why."""


def infra_server_ahead(config: PipelineConfig, trainers, chosen: set[str]):
    """The step log's hook: when a trainer starts to execute (not when it is cached) in
    a run that validates in a server, that server starts, with the run's frameworks
    preloaded, so its imports overlap training (serving.server.standby)."""
    frameworks = tuple(sorted({c.framework for c in config.candidates if c.name in trainers}))

    def on_execute(node_id: str) -> None:
        role = step_ids.candidate_step(node_id)
        if step_ids.INFRA_VALIDATE in chosen and role and role[0] == step_ids.TRAIN:
            standby.start_ahead(frameworks)

    return on_execute


def selected_steps(pipeline, only: str | None, start_from: str | None) -> set[str]:
    """The steps a (partial) run executes: one, one and everything downstream, or all.
    A partial run also records reused executions for the steps it skips; lineage keeps
    only these."""
    if only:
        return {only}
    if not start_from:
        return {c.id for c in pipeline.components}
    chosen, frontier = set(), [c for c in pipeline.components if c.id == start_from]
    while frontier:
        node = frontier.pop()
        if node.id not in chosen:
            chosen.add(node.id)
            frontier.extend(node.downstream_nodes)
    return chosen


def partial_run_options(pipeline, only: str | None, start_from: str | None):
    """RunOptions for `--only STEP` / `--from STEP`, or None for a whole run."""
    from tfx.orchestration.pipeline import RunOptions

    from sluice_config.errors import ConfigError, did_you_mean

    step = only or start_from
    if step is None:
        return None
    names = [c.id for c in pipeline.components]
    if step not in names:
        raise ConfigError(f"no step '{step}'.{did_you_mean(step, names)} Steps: {', '.join(names)}")
    return RunOptions(from_nodes=[step], to_nodes=[step] if only else None)


def named_runner(pipeline_run_id: str):
    """A LocalDagRunner whose TFX pipeline run id is ours, not a timestamp it picks, so
    this run's executions can be found in ML Metadata by their pipeline_run context."""
    from tfx.dsl.compiler import constants
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx.orchestration.portable import runtime_parameter_utils

    class NamedRunLocalDagRunner(LocalDagRunner):
        def run_with_ir(self, pipeline, run_options=None):
            runtime_parameter_utils.substitute_runtime_parameter(
                pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: pipeline_run_id})
            return super().run_with_ir(pipeline, run_options=run_options)

    return NamedRunLocalDagRunner()


def failed_training(steps) -> dict[str, str]:
    """candidate -> why its training failed (trainers.module_contract), for this run."""
    failed = {}
    for step in steps:
        role = step_ids.candidate_step(step.node_id)
        if role and role[0] == step_ids.TRAIN:
            reason = step_reports.figures(step).get("training_failed")
            if reason:
                failed[role[1]] = reason
    return failed


def run(config: PipelineConfig, paths: Paths, trainers, tracking_uri: str, beam_args=(),
        only: str | None = None, start_from: str | None = None,
        orchestrator_run_id: str | None = None, force: bool = False, span: str | None = None) -> dict:
    """Runs the pipeline, or one step (only) or the steps from one on (start_from), the
    steps before reusing their latest outputs (a TFX partial run). Returns the push
    decision if push ran. Raises on failure, after the MLflow parent run was marked
    FAILED with the reason. A whole run whose inputs did not change since the last
    successful one is skipped (pipelines.run.up_to_date) unless force. Where the data is
    a pattern of spans, span picks them (`--span`: N, or FIRST..LAST; the newest by
    default) and the window's digest stands for the data (pipelines.run.span_window)."""
    whole_run = not (only or start_from or orchestrator_run_id)
    window = span_window.resolve(config, span, paths.home)
    if whole_run and not force:
        previous = up_to_date.last_run(paths)
        known = span_window.digest(window, paths.home / "inputs") if window else None
        if previous.get("fingerprint") == up_to_date.fingerprint(config, paths, trainers, beam_args,
                                                                 known):
            for note in window.notes if window else ():
                log.info("%s", note)
            return _record_up_to_date(config, paths, trainers, tracking_uri, previous)

    from components.executors import preflight
    from pipelines.lineage import mlflow_store
    from pipelines.patches import speedups

    home_place.remember(paths.home)
    checked_data = (preflight.in_background(span_window.check_window, config, window, paths.home / "inputs")
                    if window else preflight.check_data_in_background(config, paths.home / "inputs"))
    store_creation = mlflow_store.create_in_background(tracking_uri)
    speedups.install()

    from pipelines.lineage import push_recovery
    from pipelines.lineage.mlflow_record import PipelineRunRecord
    from pipelines.patches.quiet import quiet_loggers

    quiet_loggers()  # the imports above reset some levels and warning filters

    mlflow_store.wait_for(store_creation)
    pipeline_run_id = f"{datetime.datetime.now().isoformat()}-{uuid.uuid4().hex[:6]}"
    record = PipelineRunRecord(config, paths, tracking_uri, trainers)
    record.mark_killed_runs()
    push_recovery.recover(paths.serving_dir, tracking_uri, "the next sluice run", [config.model_name])
    record.start(orchestrator_run_id, pipeline_run_id)
    # the steps record themselves under it (components.recording); the push record names it
    os.environ.update({run_context.MLFLOW_RUN_ENV: record.run.info.run_id,
                       run_context.TRACKING_URI_ENV: tracking_uri})
    log_file = run_log.start(paths.home, record.run.info.run_name)
    steps: list = []
    data = None  # the pre-flight's CheckedData
    chosen: set[str] | None = None  # the steps this run executes, once the graph is built
    try:
        _report_champion_bounds(config, paths, record)
        data = checked_data.result()
        record.log_data(config.data, data.sha256, data.rows, data.columns, data.spans)
        beam = local_beam_args(data.rows, beam_args)
        record.note("sluice.beam_args", " ".join(beam))  # the runner every data step ran on
        log.info("%s: %s (%s rows) -> %s, trainers: %s, Beam: %s", config.name, config.data,
                 f"{data.rows:,}", paths.home, ", ".join(trainers), " ".join(beam))
        for note in data.notes:
            log.info("%s", note)
        pipeline = create_pipeline(config.replace(data=data.path), paths, trainers, beam,
                                   enable_cache=not force,
                                   newest_span=span_window.newest_against_previous(data))
        record.log_contents(pipeline)
        run_options = partial_run_options(pipeline, only, start_from)
        chosen = selected_steps(pipeline, only, start_from)

        def executed() -> list:
            return [s for s in mlmd.steps_of_run(paths.metadata, pipeline_run_id)
                    if s.node_id in chosen]

        def describe(node_id: str) -> str:
            latest = [s for s in executed() if s.node_id == node_id]
            return step_reports.summary(latest[-1]) if latest else ""

        quiet_loggers()
        handler = step_log.install(describe, data.rows, infra_server_ahead(config, trainers, chosen))
        try:
            named_runner(pipeline_run_id).run(pipeline, run_options=run_options)
        finally:
            standby.discard()  # started ahead for a step that did not run
            logging.getLogger("absl").removeHandler(handler)
            logging.getLogger("absl").propagate = True
            quiet_loggers()
        steps = executed()
        if not steps:
            raise PipelineFailed(f"no executions of TFX pipeline run {pipeline_run_id} in "
                                 f"{paths.metadata}: did TFX change how run ids are set?")
        record.record_reused(steps)
        version, champion = record.registered()
        push_step = next((s for s in steps if s.node_id == step_ids.PUSH), None)
        decision = step_reports.figures(push_step) if push_step else {}
        if version:
            log.info("registered %s version %s; 'champion' names version %s (the one serving)",
                     config.model_name, version, champion)
        if push_step or not orchestrator_run_id:  # the run is complete: report and close it
            # judged only on merit: a span no candidate passed stays new for the schedule
            judged = bool(decision.get("blessed")) if push_step else whole_run
            if data.spans and judged:
                span_window.remember_processed(paths.home, data.spans[-1])
            if data.spans and (push_step or whole_run):
                span_ledger.record_trained(paths.home, data.spans)
            _report(record, paths, version)
            record.end("FINISHED")
        else:  # an orchestrator's task: the next task carries on the same parent run
            record.pause()
        if whole_run:
            up_to_date.remember(paths, up_to_date.fingerprint(config, paths, trainers, beam_args,
                                                              data.sha256),
                                record.run.info.run_id, decision.get("decision", ""))
        run_log.stop(log_file)
        _forget_run_context()
        return {**decision, "registered_version": version, "failed_candidates": failed_training(steps)}
    except BaseException as err:
        run_log.write_traceback(log_file, traceback.format_exc())
        if data is not None and data.spans and span_window.stopped_at_data_gate(err):  # judged: not new any more
            span_window.remember_processed(paths.home, data.spans[-1])
            span_ledger.record_stopped(paths.home, data.spans[-1], str(err))
        err.sluice_log = log_file  # the CLI's last line names it
        try:
            steps = steps or [s for s in mlmd.steps_of_run(paths.metadata, pipeline_run_id)
                              if chosen is None or s.node_id in chosen]
            record.record_reused(steps)
        finally:
            run_log.stop(log_file)
            _forget_run_context()
            record.fail(f"{type(err).__name__}: {err}", log_file)
            _report(record, paths, None)
            record.end("FAILED")
        raise


def _forget_run_context() -> None:
    for name in (run_context.MLFLOW_RUN_ENV, run_context.TRACKING_URI_ENV):
        os.environ.pop(name, None)


def _report_champion_bounds(config: PipelineConfig, paths: Paths, record) -> None:
    """Says, at the start, when the version serving fails the gate's bounds as the config
    reads now (components.gates.bounds_today): it stays until a blessed candidate beats it."""
    from components.gates import bounds_today
    from serving.model_format import push_target

    champion = push_target.current_version(paths.serving_dir, config.model_name)
    try:
        failing = bounds_today.failing_checks(champion, config.gate) if champion else []
    except Exception as err:  # a report on the champion must not fail the run
        log.warning("could not judge the champion by today's bounds: %s: %s", type(err).__name__, err)
        return
    if failing:
        words = "; ".join(failing[:2]) + (f" (+{len(failing) - 2} more)" if len(failing) > 2 else "")
        log.warning("the champion (version %s) fails this config's gate bounds on its own eval "
                    "rows: %s. It serves until a blessed candidate replaces it.",
                    push_target.version_number(champion), words)
        record.note("sluice.champion_fails_bounds", words)


def _report(record, paths: Paths, registered_version: str | None) -> None:
    """The run report (pipelines.lineage.run_report), logged to the parent run; the pushed
    version's description says in one line why it was pushed and links it. A report
    that cannot be built is logged, never fails the run."""
    from pipelines.lineage import run_report

    try:
        path = run_report.log_to_run(record.run.info.run_id, record.tracking_uri, paths.home)
        if registered_version:
            record.describe_version(registered_version, f"{record.run.info.artifact_uri}/"
                                                        f"{run_report.REPORT_FILE}")
        log.info("report: %s", path)
    except Exception as err:  # the report describes the run; it must not fail it
        log.warning("no run report: %s: %s", type(err).__name__, err)


def _record_up_to_date(config, paths, trainers, tracking_uri, previous: dict) -> dict:
    """An MLflow parent run saying nothing changed, pointing at the run that did the work."""
    from pipelines.lineage.mlflow_record import PipelineRunRecord

    decision = f"up to date: nothing changed since run {previous['mlflow_run_id']} ({previous['decision']})"
    PipelineRunRecord(config, paths, tracking_uri, trainers).record_up_to_date(
        previous["mlflow_run_id"], decision)
    log.info("nothing changed since MLflow run %s (config, data, schema, code, serving dir): "
             "skipped; `sluice run --force` runs it anyway", previous["mlflow_run_id"])
    return {"decision": decision, "registered_version": None}
