"""The model registry's side of a push: which registered version stands for which
serving folder, and the 'champion' alias, which names the version serving now."""
from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from components.recording import shared_writes

CHAMPION = "champion"


def registered_versions(model_name: str, tracking_uri: str) -> dict[str, object]:
    """Serving path -> the MLflow model version registered for it."""
    found = MlflowClient(tracking_uri).search_model_versions(f"name = '{model_name}'")
    return {mv.tags.get("sluice.serving_path"): mv for mv in found}


def champion_version(model_name: str, tracking_uri: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient(tracking_uri).get_registered_model(model_name).aliases.get(CHAMPION)
    except MlflowException:
        return None


def set_champion(client: MlflowClient, model_name: str, version: str) -> None:
    """Points the alias at version; another home's run may be setting it at this moment."""
    shared_writes.retried(lambda: client.set_registered_model_alias(model_name, CHAMPION, version))


def point_champion_at_serving(model_name: str, tracking_uri: str, serving_dir: Path) -> str | None:
    """Moves the champion alias to the registered version of the version serving now
    (call under the push lock). Two runs that push at once may register in either
    order; the alias still names what is served. -> the MLflow version, or None if the
    serving version is not registered (yet)."""
    from serving.model_format import push_target

    current = push_target.current_version(serving_dir, model_name)
    target = registered_versions(model_name, tracking_uri).get(str(current)) if current else None
    if target is None:
        return None
    set_champion(MlflowClient(tracking_uri), model_name, target.version)
    return target.version
