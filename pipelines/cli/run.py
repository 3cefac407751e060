"""`sluice run`: the whole pipeline on this machine (pipelines.runners.local)."""
from __future__ import annotations

import logging

from pipelines.cli.common import (
    EXIT_CANDIDATE_FAILED,
    EXIT_NOT_BLESSED,
    LAST_CONFIG,
    add_common,
    candidates,
    load_config,
    paths,
    tracking_uri,
)
from pipelines.run import portable_cluster

log = logging.getLogger("sluice")


def cmd_run(args) -> int:
    from pipelines.runners import local as local_runner

    beam_args = portable_cluster.from_arguments(args)
    portable_cluster.check(beam_args)  # before anything starts: exit 2, never a hang
    config, home = load_config(args), paths(args)
    home.home.mkdir(parents=True, exist_ok=True)
    (home.home / LAST_CONFIG).write_text(f"{config.source}\n")
    uri = tracking_uri(args, home)
    decision = local_runner.run(config, home, candidates(config), uri, beam_args, only=args.only,
                                start_from=args.start_from, orchestrator_run_id=args.run_id,
                                force=args.force, span=args.span)
    if decision.get("decision"):
        log.info("%s", decision["decision"])
    log.info("MLflow: %s   (browse with: sluice ui --home %s)", uri, args.home)
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


def add_commands(sub) -> None:
    run = sub.add_parser("run", help="run the whole pipeline")
    add_common(run)
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
    portable_cluster.add_arguments(run)
    steps = run.add_mutually_exclusive_group()
    steps.add_argument("--only", metavar="STEP",
                       help="run just this step, reusing the latest outputs of the steps before it")
    steps.add_argument("--from", dest="start_from", metavar="STEP",
                       help="run this step and everything after it (resume after a fix)")
    run.add_argument("--force", action="store_true",
                     help="run even if nothing changed since the last successful run, and "
                          "re-execute every step (TFX's cache off)")
    run.add_argument("--strict", action="store_true",
                     help=f"exit {EXIT_NOT_BLESSED} when the run ends without a blessed candidate "
                          "(a scheduler then marks it failed; gate.strict in the config does the same)")
    run.add_argument("--accept-drift", action="store_true",
                     help="let drift beyond the config's bounds through for this run (the "
                          "acceptance is recorded in MLflow as drift.accept)")
    run.add_argument("--run-id", help="orchestrator run id: the tasks of one DAG run share one "
                                      "MLflow parent run")
    run.set_defaults(func=cmd_run)
