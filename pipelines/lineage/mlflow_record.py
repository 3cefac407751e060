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

import mlflow
from mlflow.tracking import MlflowClient

from components.artifacts import tfx_layout
from components.reports import step_reports
from pipelines.definition.home_layout import PROJECT_ROOT, Paths
from pipelines.lineage import shared_writes
from pipelines.lineage.mlmd import Step
from pipelines.patches.quiet import prints_silenced
from sluice_config import spans as spans_module
from sluice_config import step_ids
from sluice_config.config import PipelineConfig
from sluice_config.sources import file_sha256 as file_digest

CHAMPION = "champion"
SPANS_FILE = "spans.json"  # the spans a run read (pipelines.run.span_window), where data comes in spans
PROJECT_FOLDER, MANIFEST = "project", "manifest.json"  # the user's own modules, as artifacts
EXPERIMENT_KIND = "mlflow.experimentKind"


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


def _flat(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
        for item in value:
            _flat(f"{prefix}.{item.get('name', '?')}", {k: v for k, v in item.items() if k != "name"}, out)
    else:
        out[prefix] = value
    return out


class PipelineRunRecord:
    """The MLflow side of one pipeline run."""

    def __init__(self, config: PipelineConfig, paths: Paths, tracking_uri: str, trainers):
        self.config, self.paths, self.trainers = config, paths, trainers
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient()
        name = config.experiment_name
        self.experiment_id, _ = shared_writes.experiment_id(
            self.client, name, (paths.home.resolve() / "mlartifacts").as_uri())
        if EXPERIMENT_KIND not in self.client.get_experiment(self.experiment_id).tags:
            # MLflow 3's UI opens a model-training experiment on its runs list, not on the
            # GenAI traces overview.
            shared_writes.retried(lambda: self.client.set_experiment_tag(
                self.experiment_id, EXPERIMENT_KIND, "custom_model_development"))
        self.run = None
        self.logged_models: dict[str, str] = {}  # model artifact uri -> models:/ uri
        self.champion: str | None = None  # the registered version the alias names, once set
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
                [self.experiment_id], f"tags.`sluice.orchestrator_run_id` = '{orchestrator_run_id}'")
            if found:
                self.run = mlflow.start_run(run_id=found[0].info.run_id)
                mlflow.set_tags(process_tags)
                return
        self.run = mlflow.start_run(experiment_id=self.experiment_id,
                                    run_name=f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
                                             f"-{uuid.uuid4().hex[:4]}")
        mlflow.set_tags(process_tags)
        if orchestrator_run_id:
            mlflow.set_tag("sluice.orchestrator_run_id", orchestrator_run_id)
        mlflow.set_tags(self._source_tags())
        params = _flat("", {k: v for k, v in config.to_dict().items() if k != "source"}, {})
        mlflow.log_params({k[:250]: str(v)[:500] for k, v in params.items()})
        mlflow.log_dict(config.to_dict(), "config.json")
        if config.schema.exists():
            mlflow.log_artifact(str(config.schema), "schema")
            mlflow.set_tag("sluice.schema_sha256", file_digest(config.schema))
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
        mlflow.set_tags({f"sluice.content_sha256.{step}": d for step, d in digests.items()})
        modules = [self.config.preprocessing_fn.rpartition(".")[0],
                   *(c.module_name for c in self.config.candidates)]
        manifest = {}
        for module in modules:
            for relative, path in sources.local_files(module).items():
                if path.is_relative_to(PROJECT_ROOT) or relative in manifest:
                    continue
                manifest[relative] = file_digest(path)
                folder = str(Path(PROJECT_FOLDER, relative).parent)
                mlflow.log_artifact(str(path), folder)
        if manifest:
            mlflow.log_dict(manifest, f"{PROJECT_FOLDER}/{MANIFEST}")
        if self.config.source is not None:
            commit = git_commit(self.config.source.parent)
            if commit not in ("unknown", git_commit()):  # the user's own repository
                mlflow.set_tag("sluice.project_commit", commit)

    def log_data(self, source: Path, sha256: str, rows: int, columns, spans=()) -> None:
        """The input CSV as an MLflow dataset, from what the pre-flight's one pass found
        (sha256, rows, columns): the file is not read again, nor loaded into pandas.
        Where the data is a pattern of spans, each span the run read (number, version,
        files, sha256, rows: pipelines.run.span_window) goes to spans.json, their names
        to the tag sluice.span_names and the dataset's name."""
        if not self.new:
            return
        names = spans_module.names_line([s["name"] for s in spans])
        if spans:  # the whole record as a file: a month of spans outgrows a tag (5,000 characters)
            mlflow.log_dict(list(spans), SPANS_FILE)
            mlflow.set_tag("sluice.span_names", names)
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset

        class CsvDataset(MetaDataset):
            @property
            def profile(self):
                return {"num_rows": rows, "num_elements": rows * len(columns)}

        name = f"{source.name}: {names}" if spans else source.name
        dataset = CsvDataset(resolve_dataset_source(str(source)), name=name, digest=sha256[:8])
        mlflow.set_tag("sluice.data_sha256", sha256)
        log_training_dataset(dataset)
        mlflow.set_tag("sluice.data_digest", dataset.digest)

    def _source_tags(self) -> dict[str, str]:
        """What a run was made from: code, lock, config, where its state lives."""
        lock = PROJECT_ROOT / "requirements.lock"
        return {
            "sluice.git_commit": git_commit(),
            "sluice.lock_sha256": file_digest(lock) if lock.exists() else "missing",
            "sluice.config": str(self.config.source),
            "sluice.pipeline_root": str(self.paths.pipeline_root),
            "sluice.metadata": str(self.paths.metadata),
            "sluice.trainers": ",".join(self.trainers),
            "sluice.schema": str(self.config.schema),
        }

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
        mlflow.set_tag(key, value[:5000])

    def fail(self, reason: str, log_file: Path | None = None) -> None:
        mlflow.set_tag("sluice.error", reason[:5000])
        mlflow.log_text(reason, "error.txt")
        if log_file is not None and log_file.exists():
            mlflow.log_artifact(str(log_file), "logs")
            mlflow.set_tag("sluice.log_file", str(log_file))

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

    def record_steps(self, steps: list[Step]) -> None:
        """A child run per execution, with times, parameters, figures and artifacts."""
        parent = self.run.info.run_id
        for step in steps:
            child = self.client.create_run(
                self.experiment_id, start_time=step.start_ms, run_name=step.node_id,
                tags={"mlflow.parentRunId": parent, "sluice.state": step.state,
                      "sluice.mlmd_execution_id": str(step.execution_id)})
            cid = child.info.run_id
            self.client.set_tag(parent, f"sluice.mlmd.{step.node_id}", str(step.execution_id))
            for key, value in step.properties.items():
                self.client.log_param(cid, key[:250], str(value)[:500])
            for key, artifacts in step.outputs.items():
                self.client.set_tag(cid, f"sluice.output.{key}", artifacts[0].uri)
                self.client.set_tag(cid, f"sluice.output.{key}.mlmd_id", str(artifacts[0].id))
            try:
                self._log_report(cid, step)
            except Exception as err:  # lineage must describe failures, not add them
                self.client.set_tag(cid, "sluice.lineage_error", str(err)[:500])
            self.client.log_metric(cid, "wall_seconds", (step.end_ms - step.start_ms) / 1000)
            status = {"FAILED": "FAILED", "RUNNING": "FAILED"}.get(step.state, "FINISHED")
            self.client.set_terminated(cid, status, end_time=step.end_ms)

    def _log_report(self, cid: str, step: Step) -> None:
        """What the step's own module reports (components.reports.step_reports): numbers become
        metrics and strings tags, its files and documents artifacts, its model a pyfunc."""
        reporter = step_reports.reporter(step.node_id)
        figures = reporter.figures(step)
        kept = reporter.kept(step, figures)
        for key, value in figures.items():
            if isinstance(value, str):
                self.client.set_tag(cid, f"sluice.{key}", value)
            else:
                self.client.log_metric(cid, key, float(value))
        for key, value in kept.on_pipeline_run.items():
            if isinstance(value, str):
                mlflow.set_tag(key, value)
            else:
                mlflow.log_metric(key, float(value))
        for key, value in kept.params.items():
            self.client.log_param(cid, key[:250], str(value)[:500])
        for key, values in kept.series.items():
            for i, value in enumerate(values):
                self.client.log_metric(cid, key, value, step=i)
        for path in kept.files:
            self.client.log_artifact(cid, str(path))
        for name, document in kept.documents.items():
            if isinstance(document, str):
                self.client.log_text(cid, document, name)
            else:
                self.client.log_dict(cid, document, name)
        if kept.model:
            self.log_model(cid, *kept.model)

    def log_model(self, cid: str, model_uri: str, framework: str) -> str:
        """Logs a trained model as an MLflow pyfunc that takes raw feature rows."""
        with mlflow.start_run(run_id=cid, nested=True), prints_silenced():
            from serving.model_format.mlflow_model import log_servable  # defining it warns, too

            info = log_servable(tfx_layout.serving_model_dir(model_uri))
            mlflow.set_tags({"sluice.model_uri": model_uri, "sluice.framework": framework})
        self.logged_models[model_uri] = info.model_uri
        return info.model_uri

    def _candidate_module(self, name: str | None) -> str:
        return self.config.candidate(name).module_name if name else ""

    def _candidate_hparams(self, name: str | None, given: bool = False) -> str:
        """What the candidate's module received (training's network settings overridden
        by its own), or with given only the candidate's own hyperparameters."""
        if not name:
            return ""
        candidate = self.config.candidate(name)
        found = candidate.hyperparameters if given else candidate.hparams(self.config.training)
        return json.dumps(found, sort_keys=True)

    @staticmethod
    def _warm_start_tags(steps: list[Step], name: str | None) -> dict[str, str]:
        """How the pushed candidate started: from scratch, or from a serving version's
        weights (the training history's reason: trainers.warm_start)."""
        from trainers.data import HISTORY_FILE, read_history
        from trainers.warm_start import started_from

        train = next((s for s in steps if name and s.node_id == step_ids.train(name)), None)
        run_dir = train.output("model_run") if train else None
        if run_dir is None or not Path(run_dir.uri, HISTORY_FILE).is_file():
            return {}
        why = read_history(run_dir.uri).get("warm_start", "")
        base = started_from(why)
        return {"sluice.warm_start": why, **({"sluice.warm_started_from": str(base)} if base else {})}

    def register_push(self, steps: list[Step]) -> str | None:
        """Registers the pushed model and points the champion alias at the version
        serving now, all under the serving dir's push lock."""
        push_step = next((s for s in steps if s.node_id == step_ids.PUSH and s.state == "COMPLETE"), None)
        if push_step is None:
            return None
        props = tfx_layout.custom_properties(push_step.output("pushed_model"))
        if not props.get("pushed"):
            return None
        model_uri = props["model_uri"]
        logged = self.logged_models.get(model_uri) or self.log_model(
            self.run.info.run_id, model_uri, props["framework"])
        candidate = next(c for c in push_candidates(push_step) if c["model_uri"] == model_uri)
        from components.artifacts.evaluation_record import read_evaluation

        blessing = read_evaluation(candidate["blessing_uri"])
        run = self.client.get_run(self.run.info.run_id)
        tags = {
            "sluice.run_id": self.run.info.run_id,
            "sluice.trainer": props["framework"],
            "sluice.candidate": props.get("candidate", props["framework"]),
            "sluice.module": self._candidate_module(props.get("candidate")),
            "sluice.hyperparameters": self._candidate_hparams(props.get("candidate")),
            "sluice.hyperparameters_given": self._candidate_hparams(props.get("candidate"), given=True),
            **self._warm_start_tags(steps, props.get("candidate")),
            **({"sluice.project_commit": run.data.tags["sluice.project_commit"]}
               if "sluice.project_commit" in run.data.tags else {}),
            "sluice.data_sha256": run.data.tags.get("sluice.data_sha256", ""),
            "sluice.data_digest": run.data.tags.get("sluice.data_digest", ""),
            **({"sluice.span_names": run.data.tags["sluice.span_names"]}
               if "sluice.span_names" in run.data.tags else {}),
            "sluice.schema": str(self.config.schema),
            "sluice.schema_sha256": run.data.tags.get("sluice.schema_sha256", ""),
            "sluice.git_commit": run.data.tags.get("sluice.git_commit", ""),
            "sluice.config": str(self.config.source),
            "sluice.serving_path": props["pushed_destination"],
            "sluice.serving_version": str(props["pushed_version"]),
            "sluice.baseline_version": str(props.get("baseline_version", 0)),
            "sluice.rejudged": candidate.get("rejudged", ""),
            "sluice.blessing": "; ".join(blessing["reasons"]),
            "sluice.infra_validation": candidate.get("infra_validation", ""),
            "sluice.push_decision": props["reason"],
            "sluice.metrics": json.dumps(blessing["metrics"]["overall"]),
        }
        from serving.model_format import push_target

        serving_dir, name = self.paths.serving_dir, self.config.model_name
        with push_target.push_lock(serving_dir, name), prints_silenced():
            version = mlflow.register_model(logged, name, tags=tags)
            self.champion = point_champion_at_serving(name, self.tracking_uri, serving_dir)
        mlflow.set_tag("sluice.registered_version", version.version)
        return version.version

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
        mlflow.end_run(status)

    def pause(self) -> None:
        """Between orchestrator tasks: the parent stays RUNNING until the last step (and
        is no process's: no later run may take it for killed)."""
        run_id = self.run.info.run_id
        mlflow.set_tag("sluice.pid", "")
        mlflow.end_run()
        self.client.update_run(run_id, status="RUNNING")


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


def log_training_dataset(dataset) -> None:
    """The dataset as the active run's training input. Runs of other homes may log the
    same file (name and digest) at this moment: MLflow then inserts the same dataset row
    twice (UniqueViolation dataset_pk), and the loser repeats."""
    shared_writes.retried(lambda: mlflow.log_input(dataset, context="training"))


def set_champion(client: MlflowClient, model_name: str, version: str) -> None:
    """Points the alias at version; another home's run may be setting it at this moment."""
    shared_writes.retried(lambda: client.set_registered_model_alias(model_name, CHAMPION, version))


def push_candidates(push_step: Step) -> list[dict]:
    """The pusher's candidates, as it recorded them in decision.json."""
    from components.push import read_decision  # TFX: imported only when a push is recorded

    return read_decision(push_step.output("pushed_model").uri)["candidates"]


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
