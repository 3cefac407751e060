"""Runs the pipeline locally: TFX LocalDagRunner on Beam's DirectRunner, with the step
log and the MLflow record around it. No pipeline logic lives here."""
from __future__ import annotations

import logging
import time

from pipelines import mlmd, step_figures, step_log, up_to_date
from pipelines.config import PipelineConfig
from pipelines.pipeline import Paths, create_pipeline

log = logging.getLogger("sluice")
IN_MEMORY_BEAM = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


class PipelineFailed(RuntimeError):
    """The pipeline stopped; the message says which step and why."""


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

    from pipelines.config import ConfigError, did_you_mean

    step = only or start_from
    if step is None:
        return None
    names = [c.id for c in pipeline.components]
    if step not in names:
        raise ConfigError(f"no step '{step}'.{did_you_mean(step, names)} Steps: {', '.join(names)}")
    return RunOptions(from_nodes=[step], to_nodes=[step] if only else None)


def run(config: PipelineConfig, paths: Paths, trainers, tracking_uri: str, beam_args=(),
        only: str | None = None, start_from: str | None = None,
        orchestrator_run_id: str | None = None, force: bool = False) -> dict:
    """Runs the pipeline, or one step (only) or the steps from one on (start_from), the
    steps before reusing their latest outputs (a TFX partial run). Returns the push
    decision if push ran. Raises on failure, after the MLflow parent run was marked
    FAILED with the reason. A whole run whose inputs did not change since the last
    successful one is skipped (pipelines.up_to_date) unless force."""
    whole_run = not (only or start_from or orchestrator_run_id)
    if whole_run and not force:
        previous = up_to_date.last_run(paths)
        if previous.get("fingerprint") == up_to_date.fingerprint(config, paths, trainers, beam_args):
            return _record_up_to_date(config, paths, trainers, tracking_uri, previous)

    from pipelines import mlflow_store, speedups

    paths.home.mkdir(parents=True, exist_ok=True)
    store_creation = mlflow_store.create_in_background(tracking_uri)
    speedups.install()
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipelines import preflight
    from pipelines.lineage import PipelineRunRecord
    from pipelines.quiet import quiet_loggers

    quiet_loggers()  # the imports above reset some levels and warning filters

    mlflow_store.wait_for(store_creation)
    record = PipelineRunRecord(config, paths, tracking_uri, trainers)
    record.start(orchestrator_run_id)
    started_ms = int(time.time() * 1000)
    steps: list = []
    chosen: set[str] | None = None  # the steps this run executes, once the graph is built
    try:
        rows = preflight.check_data(config)
        log.info("%s: %s (%s rows) -> %s, trainers: %s", config.name, config.data, f"{rows:,}",
                 paths.home, ", ".join(trainers))
        pipeline = create_pipeline(config, paths, trainers, beam_args or IN_MEMORY_BEAM)
        run_options = partial_run_options(pipeline, only, start_from)
        chosen = selected_steps(pipeline, only, start_from)

        def executed_since(since_ms: int) -> list:
            return [s for s in mlmd.steps_since(paths.metadata, since_ms) if s.node_id in chosen]

        def describe(node_id: str) -> str:
            latest = [s for s in executed_since(started_ms) if s.node_id == node_id]
            return step_figures.summary(latest[-1]) if latest else ""

        quiet_loggers()
        handler = step_log.install(describe)
        try:
            LocalDagRunner().run(pipeline, run_options=run_options)
        finally:
            logging.getLogger("absl").removeHandler(handler)
            logging.getLogger("absl").propagate = True
            quiet_loggers()
        steps = executed_since(started_ms)
        record.record_steps(steps)
        version = record.register_push(steps)
        push_step = next((s for s in steps if s.node_id == "push"), None)
        decision = step_figures.figures(push_step) if push_step else {}
        if version:
            log.info("registered %s version %s as '%s'", config.model_name, version, "champion")
        if push_step or not orchestrator_run_id:
            record.end("FINISHED")
        else:
            record.pause()
        if whole_run:
            up_to_date.remember(paths, up_to_date.fingerprint(config, paths, trainers, beam_args),
                                record.run.info.run_id, decision.get("decision", ""))
        return {**decision, "registered_version": version}
    except BaseException as err:
        steps = steps or [s for s in mlmd.steps_since(paths.metadata, started_ms)
                          if chosen is None or s.node_id in chosen]
        try:
            record.record_steps(steps)
        finally:
            record.fail(f"{type(err).__name__}: {err}")
            record.end("FAILED")
        raise


def _record_up_to_date(config, paths, trainers, tracking_uri, previous: dict) -> dict:
    """An MLflow parent run saying nothing changed, pointing at the run that did the work."""
    from pipelines.lineage import PipelineRunRecord

    decision = f"up to date: nothing changed since run {previous['mlflow_run_id']} ({previous['decision']})"
    PipelineRunRecord(config, paths, tracking_uri, trainers).record_up_to_date(
        previous["mlflow_run_id"], decision)
    log.info("nothing changed since MLflow run %s (config, data, schema, code, serving dir): "
             "skipped; `sluice run --force` runs it anyway", previous["mlflow_run_id"])
    return {"decision": decision, "registered_version": None}
