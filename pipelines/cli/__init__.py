"""The `sluice` command: a parser and one module of thin commands per group (run; data:
spans, schema, drift; models and the record; serve, predict, monitor; compile). A
command reads its options and calls one function of a lower layer (pipelines.runners,
pipelines.jobs, pipelines.lineage). Heavy imports happen inside the commands, after the
noise of the stack is silenced, so `sluice --help` answers at once."""
from __future__ import annotations

import argparse
import logging

from pipelines.cli import compile, data, models, run, serve
from pipelines.cli.common import (
    EXIT_ANOMALIES,
    EXIT_BAD_INPUT,
    EXIT_CANDIDATE_FAILED,
    EXIT_FAILED,
    EXIT_NOT_BLESSED,
    EXIT_NOTHING_NEW,
)

__all__ = ["main", "build_parser", "EXIT_ANOMALIES", "EXIT_BAD_INPUT", "EXIT_CANDIDATE_FAILED",
           "EXIT_FAILED", "EXIT_NOT_BLESSED", "EXIT_NOTHING_NEW"]
GROUPS = (run, data, models, serve, compile)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=(
        "TFX pipelines where Keras and PyTorch are equal citizens, recorded in MLflow."))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def exit_code(err: Exception) -> int:
    """Logs err as the user should read it; -> the exit code. The error classes are
    imported only now: importing them up front cost every command ~2 s."""
    from components.executors.preflight import DataError
    from components.gates.anomalies import DataAnomaliesError
    from components.gates.drift import DataDriftError
    from pipelines.jobs.registered_model import ModelNotFound
    from pipelines.jobs.rollback import RollbackRefused
    from pipelines.lineage.reproduce import ReproductionRefused
    from sluice_config.errors import ConfigError

    log = logging.getLogger("sluice")
    if isinstance(err, (ConfigError, DataError, ReproductionRefused, ModelNotFound, RollbackRefused)):
        log.error("error: %s", err)
        return EXIT_BAD_INPUT
    if isinstance(err, (DataAnomaliesError, DataDriftError)):
        log.error("data gate: %s", err)
        return EXIT_ANOMALIES
    step = getattr(err, "sluice_step", None)
    log.error("pipeline failed%s: %s: %s", f" in step {step}" if step else "", type(err).__name__, err)
    return EXIT_FAILED


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from pipelines.patches.quiet import configure_environment, quiet_loggers

    configure_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    quiet_loggers()
    try:
        return args.func(args)
    except Exception as err:
        code = exit_code(err)
        if getattr(err, "sluice_log", None):
            logging.getLogger("sluice").error("full log and traceback: %s", err.sluice_log)
        return code
