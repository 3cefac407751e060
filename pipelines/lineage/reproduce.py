"""`sluice reproduce`: rebuilds a registered model from its record alone, and says
whether it came out the same.

The record is what the run wrote to MLflow: the commit, the lock file's hash, the
effective config (config.json of the parent run), the data path and its sha256, the
schema's sha256 and the trainer. Anything gone or changed is a refusal with the
reason, never a half-reproduction. Otherwise the pipeline re-runs from that commit (a
temporary `git worktree`, in a scratch home: the user's home and serving dir are not
touched), and the reproduced model is compared with the original. It is reproduced
when every gate metric is within METRIC_TOLERANCE; it is exact when, besides, the
predictions of both on the reproduction's eval split agree within TOLERANCE (the normal
result on the same machine). Not always: CsvExampleGen ends in a Beam Reshuffle, and
when its output order changes, TFT's approximate quantiles (bucketized features) can
move a boundary. The outcome is recorded on the model version (sluice.reproduced_at,
sluice.reproduction.*).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.artifacts import tfx_layout
from pipelines.definition.home_layout import PROJECT_ROOT
from pipelines.lineage.mlflow_record import file_digest, recorded_spans
from sluice_config import step_ids
from sluice_config.config import METRICS

TOLERANCE = 1e-6  # exact: predictions and metrics
METRIC_TOLERANCE = 0.005  # reproduced: every gate metric, absolute


class ReproductionRefused(ValueError):
    """Something the reproduction needs is gone or changed; the message says what."""


@dataclass
class Record:
    model_name: str
    version: str
    run_id: str
    commit: str
    lock_sha256: str
    config: dict
    data: Path
    data_sha256: str
    schema_sha256: str
    trainer: str
    serving_path: str
    metrics: dict
    spans: list  # where data is a pattern of spans: each span trained on (span_window's record)
    warm_started_from: int | None = None  # the serving version whose weights training started from
    tuned: dict | None = None  # the values a tune step chose: retrained with, not searched again

    @property
    def span_range(self) -> str:
        """The --span range that selects exactly the recorded spans."""
        return f"{self.spans[0]['span']}..{self.spans[-1]['span']}" if self.spans else ""


def resolve(target: str, client):
    """models:/NAME@ALIAS, NAME@ALIAS, models:/NAME/VERSION, NAME/VERSION or a pipeline
    run id -> the MLflow model version."""
    from mlflow.exceptions import MlflowException

    spec = target.removeprefix("models:/")
    try:
        if "@" in spec:
            name, alias = spec.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        if "/" in spec:
            name, version = spec.rsplit("/", 1)
            return client.get_model_version(name, version)
        found = client.search_model_versions(f"tags.`sluice.run_id` = '{spec}'")
    except MlflowException as err:
        raise ReproductionRefused(f"no registered model {target!r}: {err.message}") from None
    if not found:
        raise ReproductionRefused(f"no registered model version comes from run {target!r}")
    return found[0]


def read_record(client, mv) -> Record:
    tags = mv.tags
    run = client.get_run(tags["sluice.run_id"])
    with tempfile.TemporaryDirectory() as scratch:
        config = json.loads(Path(client.download_artifacts(run.info.run_id, "config.json",
                                                           scratch)).read_text())
    return Record(
        model_name=mv.name, version=str(mv.version), run_id=run.info.run_id,
        commit=tags.get("sluice.git_commit", "unknown"),
        lock_sha256=run.data.tags.get("sluice.lock_sha256", "missing"),
        config=config, data=Path(config["data"]), data_sha256=tags.get("sluice.data_sha256", ""),
        schema_sha256=tags.get("sluice.schema_sha256", ""), trainer=tags.get("sluice.candidate", tags["sluice.trainer"]),
        serving_path=tags.get("sluice.serving_path", ""),
        metrics=json.loads(tags.get("sluice.metrics", "{}")),
        spans=recorded_spans(client, run.info.run_id) if tags.get("sluice.span_names") else [],
        warm_started_from=int(tags["sluice.warm_started_from"]) if tags.get("sluice.warm_started_from") else None,
        tuned=json.loads(tags["sluice.tuning.values"]) if tags.get("sluice.tuning.values") else None,
    )


def base_model(record: Record) -> Path | None:
    """The pushed version a warm-started model started from, where it still lies (in
    service or rolled back); None for a model trained from scratch. Refuses when it is
    gone: without the same starting weights the same model cannot come out."""
    if record.warm_started_from is None:
        return None
    from components.gates.drift_reference import version_dir

    serving = Path(record.serving_path).parents[1]
    found = version_dir(serving, record.model_name, record.warm_started_from)
    if found is None:
        raise ReproductionRefused(
            f"version {record.version} was warm-started from version {record.warm_started_from}'s "
            f"weights, and that version is gone from {serving / record.model_name} (in service and "
            "rolled back): training cannot start from the same weights.")
    return found


def _git(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def check(record: Record, data: Path | None) -> tuple[Path, Path | None]:
    """Refuses what cannot be reproduced exactly. -> (data file, schema path in the
    worktree, relative to it, or None when the schema is not sluice's: restore_project
    takes it from the record)."""
    commit = record.commit
    if commit in ("", "unknown") or commit.endswith("+dirty"):
        raise ReproductionRefused(
            f"version {record.version} was made from uncommitted changes (commit {commit}); "
            "they cannot be checked out again. Commit before the runs you want to reproduce.")
    if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise ReproductionRefused(
            f"commit {commit} (of version {record.version}) is not in the repository at "
            f"{PROJECT_ROOT}; fetch it (git fetch --all) and try again.")
    lock = PROJECT_ROOT / "requirements.lock"
    installed = file_digest(lock) if lock.exists() else "missing"
    if installed != record.lock_sha256:
        raise ReproductionRefused(
            f"the installed environment's lock ({lock}, sha256 {installed}) differs from the "
            f"one version {record.version} was trained with (sha256 {record.lock_sha256}); "
            f"install that lock (git checkout {commit[:12]} -- requirements.lock && make venv).")
    if record.spans:
        return _check_spans(record, data), _committed_schema(record)
    path = Path(data) if data else record.data
    if not path.is_file():
        raise ReproductionRefused(
            f"the data file {path} is gone; pass --data with the file whose sha256 is "
            f"{record.data_sha256}.")
    found = file_digest(path)
    if found != record.data_sha256:
        raise ReproductionRefused(
            f"the data file {path} changed: sha256 {found}, but version {record.version} was "
            f"trained on sha256 {record.data_sha256}. Pass --data with the original file.")
    return path, _committed_schema(record)


def _check_spans(record: Record, data: Path | None) -> Path:
    """Every recorded span is still found by the pattern, at the same version, with the
    same files and contents; -> the pattern."""
    from sluice_config import spans

    pattern = Path(data) if data else record.data
    found = {s.number: s for s in spans.find(pattern)}
    for span in record.spans:
        now = found.get(span["span"])
        if now is not None and now.version != span["version"]:
            raise ReproductionRefused(
                f"{span['name']} was delivered again as version {now.version} since version "
                f"{record.version} was trained on it; the original delivery is needed.")
        if now is None or [str(f) for f in now.files] != span["files"]:
            raise ReproductionRefused(
                f"{span['name']} of version {record.version} is gone or its files changed "
                f"(recorded: {', '.join(span['files'])}; found: "
                f"{', '.join(str(f) for f in now.files) if now else 'nothing'}); pass --data "
                "with the pattern where the spans are kept.")
        digest = spans.digest([file_digest(f) for f in now.files])
        if digest != span["sha256"]:
            raise ReproductionRefused(
                f"{span['name']} changed: sha256 {digest}, but version {record.version} was "
                f"trained on sha256 {span['sha256']} ({', '.join(span['files'])}).")
    return pattern


def _committed_schema(record: Record) -> Path | None:
    """The schema's path inside the recorded commit, found by its digest: the run may
    have been made from a checkout anywhere, so the recorded absolute path's tail is
    tried from the longest to the shortest."""
    parts = Path(record.config["schema"]).parts
    for start in range(1, len(parts)):
        candidate = Path(*parts[start:])
        shown = subprocess.run(["git", "show", f"{record.commit}:{candidate}"], cwd=PROJECT_ROOT,
                               capture_output=True)
        if shown.returncode == 0 and hashlib.sha256(shown.stdout).hexdigest() == record.schema_sha256:
            return candidate
    return None


def restore_project(client, record: Record, folder: Path, schema_in_commit: bool) -> Path | None:
    """The user's own files as the run recorded them (mlflow_record.log_contents): the
    modules under project/ into folder, each checked against its digest, and the schema
    when it is not in sluice's commit. -> the restored schema, or None."""
    from pipelines.lineage.mlflow_record import MANIFEST, PROJECT_FOLDER

    folder.mkdir(parents=True, exist_ok=True)
    listed = {a.path for a in client.list_artifacts(record.run_id)}
    if PROJECT_FOLDER in listed:
        restored = Path(client.download_artifacts(record.run_id, PROJECT_FOLDER, str(folder.parent)))
        if restored != folder:
            restored.rename(folder)
        manifest = json.loads((folder / MANIFEST).read_text())
        for relative, sha256 in manifest.items():
            found = folder / relative
            if not found.is_file() or file_digest(found) != sha256:
                raise ReproductionRefused(
                    f"the recorded module {relative} of run {record.run_id} does not match its "
                    f"digest {sha256}; the record is damaged.")
    if schema_in_commit:
        return None
    from pipelines.lineage.mlflow_record import recorded_schema

    schema = recorded_schema(client, record.run_id, record.config["schema"], record.schema_sha256, folder)
    if schema is None:
        raise ReproductionRefused(
            f"neither commit {record.commit[:12]} nor the record of run {record.run_id} holds the "
            f"schema version {record.version} was validated with ({record.config['schema']}, "
            f"sha256 {record.schema_sha256}).")
    return schema


def _config_yaml(config: dict, data: Path, schema: Path, record: Record | None = None) -> dict:
    """config.json (PipelineConfig.to_dict) -> the YAML form the loader reads. A tuned
    candidate is given the values its tune step chose, without its search: the
    reproduction retrains, it does not tune again."""
    raw = {k: v for k, v in config.items() if k != "source" and v is not None}
    raw["data"], raw["schema"] = str(data), str(schema)
    raw["candidates"] = {c["name"]: {k: v for k, v in c.items() if k != "name" and v not in ("", {}, None)}
                         for c in config.get("candidates", [])} or None
    if record is not None and record.tuned is not None and record.trainer in (raw["candidates"] or {}):
        tuned = raw["candidates"][record.trainer]
        tuned.pop("tuning", None)
        tuned["hyperparameters"] = {**tuned.get("hyperparameters", {}), **record.tuned}
    if raw["candidates"] is None:
        del raw["candidates"]
    raw["features"] = {f["name"]: {k: v for k, v in f.items() if k != "name" and v is not None}
                       for f in config["features"]}
    raw["label"] = {k: v for k, v in config["label"].items() if v not in (None, [], ())}
    return raw


def rerun(record: Record, data: Path, schema: Path, scratch: Path, base: Path | None = None) -> Path:
    """Runs the recorded commit's pipeline in scratch/home, with the config written
    in scratch/project beside the user's restored modules (restore_project), so they
    import as they did. schema: relative to the worktree, or restored (absolute). base:
    the version a warm-started model started from, served in the scratch home first so
    the candidate starts from the same weights (its drift is accepted: the original
    run's data gate judged against another reference). -> the home."""
    source, home = scratch / "source", scratch / "home"
    accept = []
    if base is not None:
        from serving.model_format import push_target

        push_target.push(base, home / "serving", record.model_name, push_target.push_record(base))
        accept = ["--accept-drift"]
    added = _git("worktree", "add", "--detach", str(source), record.commit)
    if added.returncode != 0:
        raise RuntimeError(f"git worktree add failed: {added.stderr.strip()}")
    try:
        config = scratch / "project" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        # Key order matters: splits take hash buckets in order, features set the layout.
        config.write_text(yaml.safe_dump(_config_yaml(record.config, data, source / schema, record),
                                         sort_keys=False))
        env = {**os.environ, "PYTHONPATH": str(source)}
        env.pop("MLFLOW_TRACKING_URI", None)
        spans = ["--span", record.span_range] if record.spans else []
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--config", str(config),
             "--home", str(home), "--trainer", record.trainer, *spans, *accept],
            cwd=source, env=env, capture_output=True, text=True)
        (scratch / "run.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"the reproduction run failed (exit {result.returncode}); "
                               f"its log: {scratch / 'run.log'}")
    finally:
        _git("worktree", "remove", "--force", str(source))
    return home


def compare(record: Record, home: Path) -> dict:
    """The reproduced model against the original, on the reproduction's eval split."""
    from mlflow.tracking import MlflowClient

    from components.evaluate import read_raw_split
    from pipelines.lineage.run_report import RunReport
    from serving.model_format.model import ServableModel

    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(f"sluice-{record.config['name']}")
    parent = next(r for r in client.search_runs([experiment.experiment_id])
                  if "mlflow.parentRunId" not in r.data.tags)
    reproduction = RunReport(parent.info.run_id, tracking_uri)
    steps = reproduction.steps
    trained = tfx_layout.serving_model_dir(steps[step_ids.train(record.trainer)].data.tags["sluice.output.model"])
    original = Path(record.serving_path)
    if not original.is_dir():
        raise ReproductionRefused(f"the original model {original} is gone; nothing to compare with.")
    reproduced, before = ServableModel(trained), ServableModel(original)
    rows = read_raw_split(steps[step_ids.EXAMPLE_GEN].data.tags["sluice.output.examples"], "eval",
                          before.feature_names)
    worst = float(abs(reproduced.predict(rows) - before.predict(rows)).max())
    metrics = reproduction.evaluations()[record.trainer]["metrics"]["overall"]
    differences = {m: abs(metrics[m] - record.metrics[m]) for m in METRICS
                   if m in metrics and m in record.metrics}
    exact = worst <= TOLERANCE and all(d <= TOLERANCE for d in differences.values())
    reproduced = all(d <= METRIC_TOLERANCE for d in differences.values())
    return {"exact": exact, "reproduced": reproduced, "max_prediction_difference": worst,
            "metric_differences": differences, "rows": len(next(iter(rows.values()))),
            "run_id": parent.info.run_id}


def reproduce(target: str, tracking_uri: str, data: Path | None = None) -> dict:
    """Refuses, or re-runs and compares; records the outcome on the model version."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    mv = resolve(target, client)
    record = read_record(client, mv)
    data_path, schema = check(record, data)
    scratch = Path(tempfile.mkdtemp(prefix="sluice-reproduce-"))
    base = base_model(record)
    restored = restore_project(client, record, scratch / "project", schema is not None)
    home = rerun(record, data_path, schema or restored, scratch, base)
    result = {**compare(record, home), "scratch": str(scratch), "version": record.version,
              "model": record.model_name, "commit": record.commit}
    metrics = ", ".join(f"{m} {d:.2e}" for m, d in result["metric_differences"].items())
    if result["exact"]:
        word = "exact"
    elif result["reproduced"]:
        word = (f"reproduced: metrics within {METRIC_TOLERANCE} ({metrics}); model not identical: "
                f"predictions differ by up to {result['max_prediction_difference']:.2e}")
    else:
        word = (f"differs: predictions up to {result['max_prediction_difference']:.2e}, metrics "
                f"{metrics} (more than {METRIC_TOLERANCE})")
    if base is not None:
        word += f"; started from version {record.warm_started_from}'s weights, as the original"
    for key, value in {"sluice.reproduced_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "sluice.reproduction.result": word,
                       "sluice.reproduction.tolerance": f"{TOLERANCE} exact, {METRIC_TOLERANCE} metrics",
                       "sluice.reproduction.run_id": result["run_id"],
                       "sluice.reproduction.home": str(home)}.items():
        client.set_model_version_tag(record.model_name, record.version, key, value)
    result["result"] = word
    return result
