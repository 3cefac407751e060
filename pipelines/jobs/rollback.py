"""`sluice rollback`: serves a previous (or a rolled-back newer) version again and moves
MLflow's champion alias with it, under the push lock so no push interleaves; who and
why are recorded on both sides (rollbacks.jsonl in the serving dir, the model versions'
tags)."""
from __future__ import annotations

from pipelines.definition.home_layout import Paths
from sluice_config.config import PipelineConfig


class RollbackRefused(ValueError):
    """No such version, or a reason is missing; the message says which."""


def roll_back(config: PipelineConfig, paths: Paths, tracking_uri: str, to: int | None,
              reason: str | None, who: str) -> str:
    """-> what moved, as one line for the user."""
    from components.recording.registry import registered_versions
    from pipelines.lineage.mlflow_record import move_champion
    from serving.model_format import push_target

    name, serving_dir = config.model_name, paths.serving_dir
    with push_target.push_lock(serving_dir, name):  # no push may interleave
        try:
            _, target = push_target.rollback_target(serving_dir, name, to)
        except ValueError as err:
            raise RollbackRefused(f"rollback: {err}") from None
        registered = registered_versions(name, tracking_uri)
        if not reason and str(serving_dir / name / str(target)) in registered:
            raise RollbackRefused(f"rollback: --reason is required: serving version {target} moves the "
                                  "MLflow 'champion' alias, and the reason is recorded with it")
        why = reason or "manual rollback"
        old, new = push_target.roll_back(serving_dir, name, target, who, why)
        mlflow_version = move_champion(name, tracking_uri, serving_dir / name / str(new),
                                       serving_dir / name / str(old), who, why)
    moved = push_target.rollback_history(serving_dir, name)[-1]
    aside = ", ".join(map(str, moved["moved_aside"]))
    what = (f"version(s) {aside} moved to {serving_dir / name / push_target.ROLLED_BACK}" if aside
            else f"nothing moved aside: version {old} stays on disk, older than {new}")
    if moved["restored"]:
        what = f"brought back from {push_target.ROLLED_BACK}; {what}"
    return (f"{name}: version {new} is served ({'forward' if new > old else 'back'} from {old}; {what}); "
            + (f"MLflow champion -> version {mlflow_version}" if mlflow_version
               else "no MLflow version is registered for it, alias unchanged"))
