"""Beam's own job service (the Job API that Flink's and Spark's job servers also speak),
as scripts/beam_cluster.sh starts it: Beam's local_job_service_main, with a lost SDK
worker failing its job (pipelines.patches.lost_workers) instead of hanging it.

    python -m pipelines.run.job_service --port 8099 --staging_dir DIR
"""
from __future__ import annotations

import sys

from apache_beam.runners.portability import local_job_service_main

from pipelines.patches.lost_workers import fail_jobs_of_lost_workers


def main(argv: list[str]) -> None:
    fail_jobs_of_lost_workers()
    local_job_service_main.run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
