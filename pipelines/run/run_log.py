"""Each run's log file, <home>/logs/<run name>.log: the step log as on screen, and on
failure the full traceback, which the screen leaves out. A failed run logs the file to
its MLflow parent run and the CLI's last line names it, so the trail outlives the
terminal."""
from __future__ import annotations

import logging
from pathlib import Path

_handlers: dict[Path, logging.Handler] = {}


def start(home: Path, run_name: str) -> Path:
    """Copies everything logged from now on (the step log, errors) into the file."""
    path = home / "logs" / f"{run_name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    _handlers[path] = handler
    return path


def write_traceback(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n" + text)


def stop(path: Path) -> None:
    handler = _handlers.pop(path, None)
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
