"""What every command shares: the exit codes, the options --config/--home/--tracking-uri,
and reading them into the config, the home's layout and the MLflow store."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ANOMALIES = 1, 2, 3
EXIT_CANDIDATE_FAILED = 4  # the run finished, but a candidate's trainer module broke the contract
EXIT_NOT_BLESSED = 5  # --strict: the run ended without a blessed candidate
EXIT_NOTHING_NEW = 99  # Airflow's BashOperator marks a task skipped on it (skip_on_exit_code)
LAST_CONFIG = "last_config.txt"  # in the home: the config of its latest run


def add_common(parser) -> None:
    parser.add_argument("--config", help="bundled config name or YAML path (default for run: taxi; "
                                         "for the others: the config of the home's latest run, else taxi)")
    parser.add_argument("--home", default=os.environ.get("SLUICE_HOME", "sluice_home"),
                        help="folder for pipeline outputs, metadata, MLflow store, serving dir "
                             "(default: $SLUICE_HOME or ./sluice_home)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                                               "else a SQLite store in --home)")


def add_who_and_why(parser, why: str, who: str = "who (default: the current user)") -> None:
    """--reason and --by: a decision a person makes is recorded with who and why."""
    parser.add_argument("--reason", help=why)
    parser.add_argument("--by", help=who)


def paths(args):
    """The home's layout; a home moved from where it was made is refused (home_place)."""
    from pipelines.definition.home_layout import Paths
    from pipelines.run import home_place

    home = Path(args.home).resolve()
    home_place.check(home)
    return Paths(home)


def tracking_uri(args, home_paths) -> str:
    return args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or home_paths.tracking_uri


def config_name(args) -> str:
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


def load_config(args):
    """The config with the command's overrides (--data, --steps, --workers,
    --accept-drift, --trainer) applied."""
    from sluice_config import config as config_module

    config = config_module.load(config_name(args))
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


def candidates(config) -> tuple[str, ...]:
    """The names of the candidates a command trains (after --trainer)."""
    return tuple(c.name for c in config.candidates)
