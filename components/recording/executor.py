"""The executor every step runs behind: it runs the step's own executor, then writes the
step's MLflow child run (components.recording.step_run) where the step ran, failed or
not. A Beam step's stands behind RecordedBeamExecutor (TFX gives a Beam executor the
Beam arguments, and refuses one outside a Beam spec), any other's behind
RecordedExecutor.

recorded(component) puts it in front of a component's executor and names the step and
its executor in one parameter (STEP_KEY), which stays the same from run to run: TFX's
cache key sees it once, when a step is first recorded this way. On Kubeflow the
executor is named in the compiled spec (`--executor_class_path`), so it is importable by
path like any other."""
from __future__ import annotations

import copy
import json
import logging
import time

from tfx.dsl.components.base import base_beam_executor, base_executor, executor_spec

from components.recording import beam_jobs

STEP_KEY = "sluice_step"  # {"id": the step's id, "executor": the class path of its own executor}
log = logging.getLogger("sluice")


def recorded(component):
    """component, its executor put behind a recording one (its spec's kind, Beam
    arguments and flags kept)."""
    own = component.executor_spec
    beam = isinstance(own, executor_spec.BeamExecutorSpec)
    spec = type(own)(RecordedBeamExecutor if beam else RecordedExecutor)
    spec.add_extra_flags(own.extra_flags)
    if beam:
        spec.add_beam_pipeline_args(own.beam_pipeline_args)
    component.executor_spec = spec
    component.exec_properties[STEP_KEY] = json.dumps({"id": component.id, "executor": own.class_path},
                                                     sort_keys=True)
    return component


def sluice_keys() -> tuple[str, ...]:
    from components.recording.parent_run import JOB_KEY, JOB_RUN_KEY

    return STEP_KEY, JOB_KEY, JOB_RUN_KEY


class Recording:
    """Runs the step's executor (STEP_KEY names it) with the parameters it declares, and
    records it: COMPLETE with its figures, or FAILED; the error goes on as it was."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX's name)
        from tfx.orchestration.portable import outputs_utils
        from tfx.utils import import_utils

        # TFX's local launcher makes them; Kubeflow's makes only the folder above them
        outputs_utils.make_output_dirs(output_dict)
        step = json.loads(exec_properties[STEP_KEY])
        own = {k: v for k, v in exec_properties.items() if k not in sluice_keys()}
        context, job_name = self._context, None
        if isinstance(self, base_beam_executor.BaseBeamExecutor):  # on a job server: its jobs named
            args, job_name = beam_jobs.name_jobs(context.beam_pipeline_args, step["id"])
            if job_name:
                context = copy.copy(context)
                context.beam_pipeline_args = args
        executor = import_utils.import_class_by_path(step["executor"])(context)
        start = int(time.time() * 1000)
        try:
            executor.Do(input_dict, output_dict, own)
        except BaseException as err:
            if not getattr(err, "sluice_step", None):  # the CLI's last line names the step
                err.sluice_step = step["id"]
            self._record(step["id"], "FAILED", start, own, input_dict, output_dict, exec_properties,
                         f"{step['id']} failed: {type(err).__name__}: {err}", context, job_name)
            raise
        self._record(step["id"], "COMPLETE", start, own, input_dict, output_dict, exec_properties,
                     "", context, job_name)

    @staticmethod
    def _record(node_id, state, start, own, input_dict, output_dict, exec_properties, error="",
                context=None, job_name=None):
        """The step's child run; on a job, the dataset (ExampleGen) and the parent's end.
        A child run that cannot be written is logged and never fails the step; the push
        step's registration can (as the run would), and a later command completes it
        (pipelines.lineage.push_recovery)."""
        from components.recording import parent_run, step_run
        from components.recording.step import from_executor
        from sluice_config import step_ids

        try:
            parent = parent_run.for_step(exec_properties)
        except Exception as err:
            log.warning("could not find the MLflow run of step %s: %s: %s", node_id, type(err).__name__, err)
            return
        if parent is None:
            return
        step = from_executor(node_id, state, start, int(time.time() * 1000), own, input_dict, output_dict)
        if job_name:  # the step's Beam jobs, by their ids on the job server
            jobs = beam_jobs.jobs_named(context.beam_pipeline_args, job_name)
            step.tags.update({"sluice.beam_job_name": job_name, "sluice.beam_job_ids": ",".join(jobs),
                              "sluice.beam_job_states": ",".join(jobs.values())})
        try:
            step_run.record(parent, step)
            if node_id == step_ids.EXAMPLE_GEN and state == "COMPLETE" and not parent.opened_by_runner:
                from components.recording import datasets

                datasets.log_files_read(parent, step)
        except Exception as err:  # the step's work is done; its record must not undo it
            log.warning("could not record step %s in MLflow: %s: %s", node_id, type(err).__name__, err)
        if state == "FAILED":
            parent_run.end(parent, "FAILED", error)
        elif node_id == step_ids.PUSH:
            from components.recording import registration

            registration.register(parent, step)
            parent_run.end(parent, "FINISHED")


class RecordedExecutor(Recording, base_executor.BaseExecutor):
    """A step's executor, recorded."""


class RecordedBeamExecutor(Recording, base_beam_executor.BaseBeamExecutor):
    """A Beam step's executor, recorded."""
