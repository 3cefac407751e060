"""`sluice models`: every pushed version of the config's model, in service or rolled
back, with what made it, its MLflow version and run, why it was pushed or moved aside,
and whether it fails today's bounds."""
from __future__ import annotations

from pathlib import Path

from pipelines.definition.home_layout import Paths
from sluice_config.config import PipelineConfig


def version_table(config: PipelineConfig, paths: Paths, tracking_uri: str) -> list[str]:
    """-> the lines to print, one per version, oldest first."""
    from components.gates import bounds_today
    from components.recording.registry import champion_version, registered_versions
    from pipelines.lineage import push_recovery
    from serving.model_format import push_target

    name, serving_dir = config.model_name, paths.serving_dir
    push_recovery.recover(serving_dir, tracking_uri, "sluice models", [name])
    live = push_target.versions(serving_dir, name)
    registered = registered_versions(name, tracking_uri)
    champion = champion_version(name, tracking_uri)
    aside_since = {v: entry for entry in push_target.rollback_history(serving_dir, name)
                   for v in entry["moved_aside"]}
    rows = [(v, serving_dir / name / str(v), "serving" if v == live[-1] else "in service")
            for v in live]
    rows += [(v, serving_dir / name / push_target.ROLLED_BACK / str(v),
              f"rolled back {aside_since[v]['at']}" if v in aside_since else "rolled back")
             for v in push_target.rolled_back(serving_dir, name)]
    if not rows:
        return [f"no pushed versions of {name} in {serving_dir}"]
    lines = [f"{name} in {serving_dir}"]
    for version, path, state in sorted(rows):
        mv = registered.get(str(serving_dir / name / str(version)))
        why = f"  [{aside_since[version]['reason']}]" if version in aside_since else ""
        failing = bounds_today.failing_checks(path, config.gate)
        if failing:
            why += f"  [fails today's bounds: {'; '.join(failing[:2])}]"
        lines.append(_line(version, path, state, mv, champion, why))
    return lines


def _line(version: int, path: Path, state: str, mv, champion: str | None, why: str) -> str:
    from serving.model_format import push_target

    record = push_target.push_record(path)
    lineage = (f"mlflow v{mv.version}{' (champion)' if mv.version == champion else ''} "
               f"run {mv.tags.get('sluice.run_id', '?')[:8]}" if mv else "not in MLflow")
    if mv and mv.tags.get("sluice.span_names"):
        lineage += f" on {mv.tags['sluice.span_names']}"
    made_by = f"{record.get('candidate', record.get('framework', '?'))} ({record.get('framework', '?')})"
    return f"  {version:>3}  {state:<35} {made_by:<20} {lineage}  {record.get('reason', '')}{why}"
