"""The Beam jobs a step ran on a job server, for its record: which jobs, by their ids
on the job server, and in what state they ended.

A TFX step builds its Beam pipelines itself and keeps no handle on their results. On a
job server (Beam's Job API: Beam's own job service, Flink's, Spark's) every job carries
its pipeline options; so a step's pipelines are given a name of their own (`--job_name`,
unless the user set one), and after the step the job server's GetJobs answers with the
ids and states of the jobs of that name. On the in-process runner there is
no job server and nothing to name.
"""
from __future__ import annotations

import logging
import re
import uuid

log = logging.getLogger("sluice")
JOB_NAME = "--job_name="
TIMEOUT_SECONDS = 10.0


def _endpoint_and_name(beam_args) -> tuple[str | None, str | None]:
    """The job server and the job name the arguments give, as Beam reads them."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, PortableOptions

    options = PipelineOptions(flags=list(beam_args or ()))
    return options.view_as(PortableOptions).job_endpoint, options.view_as(GoogleCloudOptions).job_name


def name_jobs(beam_args, step_id: str) -> tuple[list, str | None]:
    """(beam_args with a job name for the step's pipelines, that name); unchanged and
    None where no job server is named or the user named the jobs."""
    beam_args = list(beam_args or ())
    endpoint, given_name = _endpoint_and_name(beam_args)
    if endpoint is None or given_name:
        return beam_args, None
    # lower case, digits and dashes: what Flink, Spark and Dataflow all accept
    name = f"sluice-{re.sub(r'[^a-z0-9]+', '-', step_id.lower())}-{uuid.uuid4().hex[:8]}"
    return [*beam_args, f"{JOB_NAME}{name}"], name


def jobs_named(beam_args, name: str) -> dict[str, str]:
    """job id -> its state name, for the jobs the job server holds under name; empty
    when it cannot be asked (the record must not fail the step)."""
    import grpc
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    endpoint = _endpoint_and_name(beam_args)[0]
    try:
        with grpc.insecure_channel(endpoint) as channel:
            stub = beam_job_api_pb2_grpc.JobServiceStub(channel)
            jobs = stub.GetJobs(beam_job_api_pb2.GetJobsRequest(), timeout=TIMEOUT_SECONDS).job_info
    except grpc.RpcError as err:
        log.warning("could not list the jobs of %s: %s", endpoint, err)
        return {}
    state = beam_job_api_pb2.JobState.Enum.Name
    return {job.job_id: state(job.state) for job in jobs if job_name_of(job) == name}


def job_name_of(job) -> str:
    """The job's name: Beam's Python PortableRunner prepares every job as 'job' and
    sends --job_name among the pipeline options; other clients set the name itself."""
    option = job.pipeline_options.fields.get("beam:option:job_name:v1")
    return option.string_value if option is not None and option.string_value else job.job_name
