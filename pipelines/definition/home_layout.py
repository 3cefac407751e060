"""The layout of a sluice home (one folder holds a pipeline's outputs, its metadata, the
MLflow store and the serving dir) and where the project's own code lives. Every layer
above the DAG asks this module, so the names of those folders are written once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the repository: code, lock, git


@dataclass(frozen=True)
class Paths:
    """Where a pipeline keeps its state, all under one home folder."""

    home: Path

    @property
    def pipeline_root(self) -> Path:
        return self.home / "pipeline_root"

    @property
    def metadata(self) -> Path:
        return self.home / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    @property
    def tuning_storage(self) -> Path:
        """The Optuna studies of the tune steps (SQLite), unless tuning.storage names another."""
        return self.home.resolve() / "tuning" / "optuna.db"

    @property
    def tracking_uri(self) -> str:
        """The local MLflow store, used unless --tracking-uri / MLFLOW_TRACKING_URI say otherwise."""
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"
