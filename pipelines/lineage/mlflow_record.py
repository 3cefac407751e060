"""Everything sluice writes to MLflow, in one place.

One parent run per pipeline run; one child run per component execution (from ML
Metadata, so cached steps show as cached); the input data as an MLflow dataset; each
trained model logged as a pyfunc; the pushed one registered with the 'champion' alias
and tags saying what produced it and why it was allowed through.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from mlflow.entities import RunTag
from mlflow.tracking import MlflowClient

from components.recording import parent_run, step_run
from components.recording.registry import registered_versions, set_champion
from components.recording.step import Step
from pipelines.definition.home_layout import PROJECT_ROOT, Paths
from sluice_config import spans as spans_module
from sluice_config.config import PipelineConfig
from sluice_config.sources import file_sha256 as file_digest

SPANS_FILE = "spans.json"  # the spans a run read (pipelines.run.span_window), where data comes in spans
PROJECT_FOLDER, MANIFEST = "project", "manifest.json"  # the user's own modules, as artifacts


def git_commit(folder: Path = PROJECT_ROOT) -> str:
    """HEAD of the repository holding folder (sluice's own by default), with "+dirty"
    when tracked files differ from it: the commit alone would not reproduce the run."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=folder,
                               capture_output=True).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


class PipelineRunRecord:
    """The MLflow side of one pipeline run."""

    def __init__(self, config: PipelineConfig, paths: Paths, tracking_uri: str, trainers):
        self.config, self.paths, self.trainers = config, paths, trainers
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri, registry_uri=tracking_uri)  # never the process-wide one
        self.experiment_id = parent_run.experiment(self.client, config.experiment_name,
                                                   (paths.home.resolve() / "mlartifacts").as_uri())
        self.run = None
        self.new = False  # start() made a new parent run (not a resumed one)

    def start(self, orchestrator_run_id: str | None = None, pipeline_run_id: str = "") -> None:
        """Opens the parent run. Orchestrator tasks of one DAG run pass the same
        orchestrator_run_id and share one parent: the first task creates it. The
        process is recorded (sluice.pid) so that a later run can tell this one was
        killed if it never ends."""

        config = self.config
        process_tags = {"sluice.pid": f"{socket.gethostname()}:{os.getpid()}",
                        "sluice.pipeline_run_id": pipeline_run_id}
        if orchestrator_run_id:
            found = self.client.search_runs(
                [self.experiment_id], f"tags.`{parent_run.ORCHESTRATOR_RUN_TAG}` = '{orchestrator_run_id}'")
            if found:  # running again (a retried task may follow one that failed it)
                self.run = found[0]
                self.client.update_run(self.run.info.run_id, status="RUNNING")
                self._set_tags(process_tags)
                return
        tags = {**process_tags, "sluice.orchestrator": "airflow" if orchestrator_run_id else "local",
                **({parent_run.ORCHESTRATOR_RUN_TAG: orchestrator_run_id} if orchestrator_run_id else {}),
                **self._source_tags()}
        self.run = self.client.create_run(self.experiment_id, tags=tags,
                                          run_name=f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
                                                   f"-{uuid.uuid4().hex[:4]}")
        parent_run.log_config(self.client, self.run.info.run_id, config)
        self.new = True  # a resumed run (an orchestrator's next task) has its data logged

    def log_contents(self, pipeline) -> None:
        """The digest of what each step reads from the user's files (the parameter its
        cache key sees: pipelines.definition.dag.content_digests), as tags; the user's
        own modules (outside sluice's checkout: the preprocessing_fn's and the candidates',
        with their local imports) as artifacts under project/, laid out as they import,
        with their digests (project/manifest.json), which reproduce restores; and the
        commit of the user's repository when the config lives in one."""
        from pipelines.definition.dag import CONTENT_KEY
        from sluice_config import sources

        digests = {c.id: c.exec_properties[CONTENT_KEY] for c in pipeline.components
                   if CONTENT_KEY in c.exec_properties}
        self._set_tags({f"sluice.content_sha256.{step}": d for step, d in digests.items()})
        modules = [self.config.preprocessing_fn.rpartition(".")[0],
                   *(c.module_name for c in self.config.candidates)]
        manifest = {}
        for module in modules:
            for relative, path in sources.local_files(module).items():
                if path.is_relative_to(PROJECT_ROOT) or relative in manifest:
                    continue
                manifest[relative] = file_digest(path)
                folder = str(Path(PROJECT_FOLDER, relative).parent)
                self.client.log_artifact(self.run.info.run_id, str(path), folder)
        if manifest:
            self.client.log_dict(self.run.info.run_id, manifest, f"{PROJECT_FOLDER}/{MANIFEST}")
        if self.config.source is not None:
            commit = git_commit(self.config.source.parent)
            if commit not in ("unknown", git_commit()):  # the user's own repository
                self.note("sluice.project_commit", commit)

    def log_data(self, source: Path, sha256: str, rows: int, columns, spans=()) -> None:
        """The input CSV as an MLflow dataset, from what the pre-flight's one pass found
        (sha256, rows, columns): the file is not read again, nor loaded into pandas.
        Where the data is a pattern of spans, each span the run read (number, version,
        files, sha256, rows: pipelines.run.span_window) goes to spans.json, their names
        to the tag sluice.span_names and the dataset's name."""
        if not self.new:
            return
        names = spans_module.names_line([s["name"] for s in spans])
        run_id = self.run.info.run_id
        if spans:  # the whole record as a file: a month of spans outgrows a tag (5,000 characters)
            self.client.log_dict(run_id, list(spans), SPANS_FILE)
            self.note("sluice.span_names", names)
        from components.recording import datasets

        datasets.log_csv(self.client, run_id, str(source), f"{source.name}: {names}" if spans else source.name,
                         sha256, rows, len(columns))

    def _source_tags(self) -> dict[str, str]:
        return source_tags(self.config, self.paths, self.trainers)

    def record_up_to_date(self, previous_run_id: str, decision: str) -> None:
        """A finished parent run saying nothing changed, pointing at the run that did the
        work (which holds the dataset, models and steps). Client calls only: the fluent
        run API also probes for Databricks and IPython, ~0.7 s of a ~6 s skip."""
        run = self.client.create_run(
            self.experiment_id, run_name=f"{self.config.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            tags={**self._source_tags(), "sluice.up_to_date_with": previous_run_id,
                  "sluice.push_decision": decision})
        self.client.set_terminated(run.info.run_id, "FINISHED")

    def note(self, key: str, value: str) -> None:
        """A tag on the pipeline's parent run (what the console said at the start)."""
        self.client.set_tag(self.run.info.run_id, key, value[:5000])

    def _set_tags(self, tags: dict[str, str]) -> None:
        self.client.log_batch(self.run.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def fail(self, reason: str, log_file: Path | None = None) -> None:
        run_id = self.run.info.run_id
        self.note("sluice.error", reason)
        self.client.log_text(run_id, reason, "error.txt")
        if log_file is not None and log_file.exists():
            self.client.log_artifact(run_id, str(log_file), "logs")
            self.note("sluice.log_file", str(log_file))

    def mark_killed_runs(self) -> list[str]:
        """Marks KILLED the parent runs still RUNNING whose process on this host is
        gone (killed, power loss), with the last step they reached. -> their run ids."""
        killed = []
        for run in self.client.search_runs([self.experiment_id], "attributes.status = 'RUNNING'"):
            owner = run.data.tags.get("sluice.pid", "")
            if not owner_gone(owner):
                continue
            from pipelines.lineage.mlmd import steps_of_run

            steps = steps_of_run(self.paths.metadata, run.data.tags.get("sluice.pipeline_run_id", ""))
            last = steps[-1].node_id if steps else "(before the first step)"
            self.client.set_tag(run.info.run_id, "sluice.killed_at_step", last)
            self.client.set_tag(run.info.run_id, "sluice.error",
                                f"the run's process ({owner}) ended without a word during "
                                f"{last}; found by a later run")
            self.client.set_terminated(run.info.run_id, "KILLED")
            killed.append(run.info.run_id)
        return killed

    @property
    def parent(self) -> step_run.ParentRun:
        return step_run.ParentRun(self.tracking_uri, self.experiment_id, self.run.info.run_id)

    def record_reused(self, steps: list[Step]) -> None:
        """The child runs of this run's steps that did not record themselves
        (components.recording): those TFX's cache reused and the importer, which never
        reach an executor, and any whose own record failed. Every step's ML Metadata
        execution id goes on the parent: ML Metadata is local to this home."""
        client, parent = self.client, self.parent
        recorded = {r.info.run_name for r in client.search_runs(
            [self.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.run_id}'")}
        for step in steps:
            client.set_tag(parent.run_id, f"sluice.mlmd.{step.node_id}", str(step.execution_id))
            if step.node_id not in recorded:
                step_run.record(parent, step)

    def registered(self) -> tuple[str | None, str | None]:
        """(the version the push step registered, the version the champion alias names)."""
        tags = self.client.get_run(self.run.info.run_id).data.tags
        return tags.get("sluice.registered_version"), tags.get("sluice.champion_version")

    def describe_version(self, version: str, report_uri: str) -> None:
        """One line on the registered version: why it was pushed, and the report."""
        mv = self.client.get_model_version(self.config.model_name, version)
        metrics = json.loads(mv.tags.get("sluice.metrics", "{}"))
        primary = self.config.gate.primary_metric
        baseline = mv.tags.get("sluice.baseline_version", "0")
        against = f"champion v{baseline}" if baseline != "0" else "no champion (first push)"
        line = (f"{mv.tags.get('sluice.candidate') or mv.tags.get('sluice.trainer')} pushed with {primary} "
                f"{metrics.get(primary, float('nan')):.4f}, judged against {against}. "
                f"Report: {report_uri}")
        self.client.update_model_version(self.config.model_name, version, description=line)

    def end(self, status: str) -> None:
        self.client.set_terminated(self.run.info.run_id, status)

    def pause(self) -> None:
        """Between orchestrator tasks: the parent stays RUNNING until the last step (and
        is no process's: no later run may take it for killed)."""
        self.note("sluice.pid", "")


def source_tags(config: PipelineConfig, paths: Paths, trainers) -> dict[str, str]:
    """What a run was made from: code, lock, config, where its state lives."""
    lock = PROJECT_ROOT / "requirements.lock"
    return {
        "sluice.git_commit": git_commit(),
        "sluice.lock_sha256": file_digest(lock) if lock.exists() else "missing",
        "sluice.config": str(config.source),
        "sluice.pipeline_root": str(paths.pipeline_root),
        "sluice.metadata": str(paths.metadata),
        "sluice.trainers": ",".join(trainers),
        "sluice.schema": str(config.schema),
    }


def owner_gone(owner: str) -> bool:
    """Whether the process a run's sluice.pid tag names ("host:pid") is a process of
    this host that no longer exists; a run of another host is taken at its word."""
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


def recorded_spans(client: MlflowClient, run_id: str) -> list[dict]:
    """The spans a pipeline run read (PipelineRunRecord.log_data's spans.json: number,
    version, name, files, sha256, rows of each), or [] where its data was one file."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        try:
            return json.loads(Path(client.download_artifacts(run_id, SPANS_FILE, scratch)).read_text())
        except Exception:  # no such artifact: the run read one file
            return []


def recorded_schema(client: MlflowClient, run_id: str, schema_path: str, sha256: str,
                    folder: Path) -> Path | None:
    """The schema a pipeline run validated with, downloaded from its record (logged by
    PipelineRunRecord.start), or None when the record lacks it or it does not match
    sha256: the file at schema_path may have been edited since."""
    try:
        schema = Path(client.download_artifacts(run_id, f"schema/{Path(schema_path).name}", str(folder)))
    except Exception:  # no such artifact
        return None
    return schema if file_digest(schema) == sha256 else None


def move_champion(model_name: str, tracking_uri: str, serving_path: Path, from_path: Path,
                  who: str, why: str) -> str | None:
    """Points the champion alias at the version registered for serving_path, with who
    and why recorded on both versions. -> the MLflow version, or None if unregistered."""
    client = MlflowClient(tracking_uri)
    by_path = registered_versions(model_name, tracking_uri)
    target = by_path.get(str(serving_path))
    if target is None:
        return None
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    set_champion(client, model_name, target.version)
    for key, value in {"by": who, "reason": why, "at": when, "from": str(from_path)}.items():
        client.set_model_version_tag(model_name, target.version, f"sluice.rollback.{key}", value)
    previous = by_path.get(str(from_path))
    if previous is not None:
        client.set_model_version_tag(model_name, previous.version, "sluice.rolled_back",
                                     f"{when} by {who}: {why}")
    return target.version
