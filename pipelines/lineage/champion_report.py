"""`sluice lineage`: what produced the serving model, read back from MLflow."""
from __future__ import annotations

import json


def champion_report(model_name: str, tracking_uri: str, version: str | None = None) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipelines.lineage.mlflow_record import recorded_spans

    client = MlflowClient(tracking_uri)
    try:
        mv = (client.get_model_version(model_name, version) if version
              else client.get_model_version_by_alias(model_name, "champion"))
    except MlflowException:
        return f"No {'version ' + version if version else 'champion'} of {model_name} in {tracking_uri}."
    t = mv.tags
    metrics = json.loads(t.get("sluice.metrics", "{}"))
    lines = [
        f"{model_name} version {mv.version}" + ("  (champion)" if "champion" in mv.aliases else ""),
        f"  serving path   {t.get('sluice.serving_path')}",
        f"  candidate      {t.get('sluice.candidate', t.get('sluice.trainer'))} "
        f"({t.get('sluice.trainer')}: {t.get('sluice.module') or 'built-in'})",
        *hyperparameter_lines(t),
        f"  pipeline run   {t.get('sluice.run_id')}",
        f"  data           sha256 {t.get('sluice.data_sha256')}  (mlflow digest {t.get('sluice.data_digest')})",
        *span_lines(recorded_spans(client, t["sluice.run_id"]) if t.get("sluice.span_names") else []),
        f"  schema         {t.get('sluice.schema')}  sha256 {t.get('sluice.schema_sha256')}",
        f"  code commit    {t.get('sluice.git_commit')}  (sluice)",
        *([f"  project commit {t['sluice.project_commit']}  (the git repository holding the config)"]
          if t.get("sluice.project_commit") else []),
        f"  config         {t.get('sluice.config')}",
        "  metrics        " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in metrics.items()),
        "  judged against " + (f"serving version {t['sluice.baseline_version']}"
                                if t.get("sluice.baseline_version", "0") != "0"
                                else "no champion (first push)"),
        f"  blessed because {t.get('sluice.blessing')}",
        f"  infra validated {t.get('sluice.infra_validation')}",
        f"  pushed because  {t.get('sluice.push_decision')}",
    ]
    if t.get("sluice.registered_after_recovery"):
        lines.append(f"  registered      after recovery: {t['sluice.registered_after_recovery']}")
    if t.get("sluice.rejudged"):
        lines.append(f"  re-judged       {t['sluice.rejudged']}")
    if t.get("sluice.rollback.by"):
        lines.append(f"  rolled back to by {t['sluice.rollback.by']} at {t.get('sluice.rollback.at')}: "
                     f"{t.get('sluice.rollback.reason')}")
    lines += _prediction_lines(client, model_name, mv.version)
    return "\n".join(lines)


def hyperparameter_lines(tags: dict) -> list[str]:
    """The candidate's hyperparameters as given, the training defaults it also received
    apart, and where its weights started."""
    ran = json.loads(tags.get("sluice.hyperparameters") or "{}")
    lines = []
    if "sluice.hyperparameters_given" in tags:
        given = json.loads(tags["sluice.hyperparameters_given"] or "{}")
        tuned = json.loads(tags.get("sluice.tuning.values") or "{}")
        defaults = {k: v for k, v in ran.items() if k not in given and k not in tuned}
        lines += [f"  hyperparams    {json.dumps(given, sort_keys=True)}  (as given)",
                  f"  defaults       {json.dumps(defaults, sort_keys=True)}  (training:, also passed)"]
    else:  # a version registered before the two were told apart
        lines.append(f"  hyperparams    {tags.get('sluice.hyperparameters', '')}")
    if tags.get("sluice.tuning.trial"):
        lines += [f"  tuned          by trial {tags['sluice.tuning.trial']} of study "
                     f"{tags.get('sluice.tuning.study')} ({tags.get('sluice.tuning.objective')}; "
                     f"trial run {tags.get('sluice.tuning.trial_run_id', '?')})",
                  f"  tuned values   {tags.get('sluice.tuning.values')}  (over those given)"]
    if tags.get("sluice.warm_started_from"):
        lines.append(f"  warm start     from version {tags['sluice.warm_started_from']}'s weights "
                     f"({tags.get('sluice.warm_start', '')})")
    elif tags.get("sluice.warm_start"):
        lines.append(f"  warm start     {tags['sluice.warm_start']}")
    return lines


def _prediction_lines(client, model_name: str, version: str) -> list[str]:
    import time

    from pipelines.lineage.batch_predictions import predictions_of

    runs = predictions_of(client, model_name, version)
    lines = [f"  batch predictions with this version (latest {len(runs)}):"] if runs else []
    for run in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.info.start_time / 1000))
        params = run.data.params
        lines.append(f"    {when}  {params.get('input')} ({int(run.data.metrics.get('rows', 0)):,} rows, "
                     f"sha256 {run.data.tags.get('sluice.input_sha256', '')[:12]}) -> "
                     f"{params.get('output')}  run {run.info.run_id[:8]}")
    return lines


def span_lines(recorded: list[dict]) -> list[str]:
    """One line per span a version was trained on (pipelines.run.span_window's record)."""
    return [f"  {'spans' if i == 0 else '':<14} {s['name']}: {s['rows']:,} rows, sha256 "
            f"{s['sha256'][:16]}, {', '.join(s['files'])}" for i, s in enumerate(recorded)]
