"""Which registered model version a target names (MODEL@ALIAS, MODEL/VERSION, with or
without models:/), its files fetched once into the home (per registry: the same version
number in another store is another model): what `sluice predict` scores with."""
from __future__ import annotations

import hashlib
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from serving.model_format.layout import LAYOUT_FILE

TARGET = re.compile(r"^(?:models:/)?(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?$")


class ModelNotFound(ValueError):
    """The target names no registered model version; the message says what exists."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    model_dir: Path  # the servable folder (sluice.json, the model, the transform)
    run_id: str  # the pipeline run that registered it
    experiment_id: str


def resolve(target: str, tracking_uri: str, cache_dir: Path) -> ModelVersion:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    match = TARGET.match(target)
    if not match:
        raise ModelNotFound(f"model {target!r}: write MODEL@ALIAS or MODEL/VERSION, e.g. "
                            "models:/sluice-taxi@champion or sluice-taxi/3.")
    name, alias = match["name"], match["alias"] or ("" if match["version"] else "champion")
    client = MlflowClient(tracking_uri)
    try:
        registered = client.get_registered_model(name)
    except MlflowException:
        known = [m.name for m in client.search_registered_models()]
        raise ModelNotFound(f"no registered model named {name!r} in {tracking_uri} "
                            f"(registered: {', '.join(known) or 'none'}).") from None
    try:
        mv = (client.get_model_version_by_alias(name, alias) if alias
              else client.get_model_version(name, match["version"]))
    except MlflowException:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
        aliases = ", ".join(f"{a} -> v{v}" for a, v in registered.aliases.items()) or "none"
        what = f"alias {alias!r}" if alias else f"version {match['version']}"
        raise ModelNotFound(f"model {name} has no {what} (versions: "
                            f"{', '.join(map(str, versions)) or 'none'}; aliases: {aliases}).") from None
    run = client.get_run(mv.run_id) if mv.run_id else None
    version = str(mv.version)
    registry = hashlib.sha256(tracking_uri.encode()).hexdigest()[:12]  # another registry, other files
    return ModelVersion(name, version, _fetched(name, version, cache_dir / registry, tracking_uri),
                        mv.tags.get("sluice.run_id", mv.run_id or ""),
                        run.info.experiment_id if run else "0")


def _fetched(name: str, version: str, cache_dir: Path, tracking_uri: str) -> Path:
    """The version's servable folder, downloaded from its MLflow artifacts on first use
    (a version's files never change)."""
    import mlflow

    from components.recording import fluent
    from pipelines.patches.quiet import prints_silenced

    target = cache_dir / name / version
    found = _servable(target)
    if found:
        return found
    partial = cache_dir / name / f".{version}.{time.time_ns()}"
    partial.mkdir(parents=True)
    try:
        # MLflow 3.17 resolves a models:/ URI through the global registry URI, whatever
        # tracking_uri/registry_uri say ("Registered Model ... not found" otherwise).
        with fluent.store(tracking_uri), prints_silenced():
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                                dst_path=str(partial))
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    found = _servable(target)
    if found is None:
        raise ModelNotFound(f"model {name} version {version}: its MLflow artifacts hold no "
                            f"servable folder ({LAYOUT_FILE}); it was not logged by sluice.")
    return found


def _servable(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    return next((p.parent for p in sorted(folder.glob(f"artifacts/*/{LAYOUT_FILE}"))), None)
