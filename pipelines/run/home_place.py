"""Where a home was made. Its stores hold absolute paths (MLflow's artifact locations,
ML Metadata's artifact URIs, each pushed version's record of its statistics and
examples), so a home moved to another folder would read as one whose history is gone:
MLflow fails to download config.json, and the drift gate finds no reference to measure
against. A moved home is refused at once, naming both folders, instead."""
from __future__ import annotations

import json
from pathlib import Path

from sluice_config.errors import ConfigError

PLACE_FILE = "home.json"


def remember(home: Path) -> None:
    """Records the home's folder, once (a home made before this file existed is taken
    as made where it is)."""
    path = home / PLACE_FILE
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"path": str(home.resolve())}) + "\n")


def check(home: Path) -> None:
    """Refuses a home that was made in another folder that is gone (a copy beside the
    original still reads the original's files, and works)."""
    path = home / PLACE_FILE
    if not path.is_file():
        return
    made = json.loads(path.read_text())["path"]
    if Path(made) != home.resolve() and not Path(made).exists():
        raise ConfigError(
            f"the home {home.resolve()} was made at {made} and moved since: its MLflow store, ML "
            f"Metadata and pushed versions hold paths under {made}, so its history would read as "
            f"gone. Move it back to {made} (or link that path to it).")
