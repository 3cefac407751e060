"""Runs a compiled Kubeflow Pipelines v2 job the way Kubeflow's launcher runs each task,
on local paths and with no cluster: for each task in DAG order, the executor input
(ExecutorInput: the task's parameters, its input artifacts from the upstream tasks'
executor outputs, its output artifacts under the job's root, the output file) is
written into the container's arguments (`{{$}}`), the job's placeholders are
substituted, the driver runs first where the spec has one (`lifecycle.preCacheCheck`),
and the container's command runs as a process of its own with the container's
environment. Importer tasks become the artifact they import, as Kubeflow's importer
does. What is emulated is only the substitution and the wiring; every executor, driver
and line of sluice and TFX that runs is the real one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path


def dag_order(tasks: dict) -> list[str]:
    done, order = set(), []
    while len(order) < len(tasks):
        ready = sorted(t for t, spec in tasks.items()
                       if t not in done and set(spec.get("dependentTasks", [])) <= done)
        assert ready, f"a cycle among {set(tasks) - done}"
        order += ready
        done |= set(ready)
    return order


class Job:
    def __init__(self, job: dict, root: Path, parameters: dict | None = None):
        self.job, self.root = job, root
        self.spec = job["pipelineSpec"]
        self.job_uuid = uuid.uuid4().hex
        self.parameters = {**job["runtimeConfig"].get("parameterValues", {}), **(parameters or {})}
        self.outputs: dict[str, dict] = {}  # task -> output key -> RuntimeArtifact (JSON)
        self.logs: dict[str, str] = {}

    def substitute(self, text: str) -> str:
        return text.replace("{{$.pipeline_job_uuid}}", self.job_uuid)

    def run(self, env: dict, cwd: Path) -> None:
        tasks = self.spec["root"]["dag"]["tasks"]
        for name in dag_order(tasks):
            self.run_task(name, tasks[name], env, cwd)

    def run_task(self, name: str, task: dict, env: dict, cwd: Path) -> None:
        component = self.spec["components"][task["componentRef"]["name"]]
        executor = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]
        outputs = component.get("outputDefinitions", {}).get("artifacts", {})
        if "importer" in executor:
            importer = executor["importer"]
            key = next(iter(outputs))
            self.outputs[name] = {key: {"name": f"{name}-{key}", "type": outputs[key]["artifactType"],
                                        "uri": _constant(importer["artifactUri"]),
                                        "metadata": importer.get("metadata", {})}}
            return
        task_root = self.root / f"{name}_{uuid.uuid4().hex[:8]}"
        planned = {key: {"name": f"{name}-{key}", "type": definition["artifactType"],
                         "uri": str(task_root / key), "metadata": {}}
                   for key, definition in outputs.items()}
        executor_input = {
            "inputs": {"parameters": self.parameters_of(task),
                       "artifacts": {key: {"artifacts": [self.outputs[ref["taskOutputArtifact"]["producerTask"]]
                                                         [ref["taskOutputArtifact"]["outputArtifactKey"]]]}
                                     for key, ref in task["inputs"].get("artifacts", {}).items()}},
            "outputs": {"artifacts": {key: {"artifacts": [a]} for key, a in planned.items()},
                        "outputFile": str(task_root / "executor_output.json")},
        }
        task_root.mkdir(parents=True)
        container = executor["container"]
        task_env = {**env, **{e["name"]: e["value"] for e in container.get("env", [])}}
        serialized = self.substitute(json.dumps(executor_input))
        steps = [container["lifecycle"]["preCacheCheck"]] if "lifecycle" in container else []
        log = []
        for part in [*steps, container]:
            command = [sys.executable if c == "python" else c for c in part["command"]]
            args = [serialized if a == "{{$}}" else self.substitute(a) for a in part["args"]]
            done = subprocess.run(command + args, env=task_env, cwd=cwd, capture_output=True, text=True,
                                  timeout=900)
            log.append(done.stdout + done.stderr)
            if done.returncode != 0:
                self.logs[name] = "\n".join(log)
                raise TaskFailed(name, done.returncode, self.logs[name])
        self.logs[name] = "\n".join(log)
        written = json.loads((task_root / "executor_output.json").read_text())
        for key, artifact in planned.items():
            produced = written.get("artifacts", {}).get(key, {}).get("artifacts", [{}])[0]
            artifact.update({k: v for k, v in produced.items() if k in ("uri", "metadata")})
        self.outputs[name] = planned

    def parameters_of(self, task: dict) -> dict:
        """The task's parameters as ExecutorInput's (old-style) Values."""
        out = {}
        for key, spec in task["inputs"].get("parameters", {}).items():
            if "componentInputParameter" in spec:
                out[key] = {"stringValue": str(self.parameters.get(spec["componentInputParameter"], ""))}
            else:
                out[key] = spec["runtimeValue"]["constantValue"]
        return out


def _constant(value: dict):
    return next(iter(value["constantValue"].values()))


class TaskFailed(RuntimeError):
    def __init__(self, task: str, code: int, log: str):
        super().__init__(f"task {task} exited {code}:\n{log[-4000:]}")
        self.task = task


def environment(repo: Path) -> dict:
    """What the image's environment would hold: sluice importable, nothing else of the
    caller's (no SLUICE_* run context: a job's steps find their parent by the job's id; no
    MLFLOW_*: the spec's container environment says what a task needs)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "MLFLOW_"))}
    return {**keep, "PYTHONPATH": str(repo)}
