"""`sluice compile airflow|kubeflow`: the pipeline for an orchestrator
(pipelines.runners.airflow writes a DAG whose tasks call `sluice run`;
pipelines.runners.kubeflow a Kubeflow Pipelines v2 job spec)."""
from __future__ import annotations

from pathlib import Path

from pipelines.cli.common import add_common, candidates, load_config, paths, tracking_uri
from pipelines.run import portable_cluster


def cmd_compile(args) -> int:
    config, home = load_config(args), paths(args)
    output = Path(args.output).resolve()
    if args.target == "airflow":
        from pipelines.runners import airflow

        spec = airflow.compile_dag(config, home, candidates(config), output, schedule=args.schedule,
                                   retries=args.retries, retry_delay_seconds=args.retry_delay,
                                   tracking_uri=args.tracking_uri, steps=args.steps,
                                   workers=args.workers, beam_args=portable_cluster.from_arguments(args))
        print(f"wrote {spec} and {spec.parent / 'sluice_dags.py'} (DAG sluice_{config.name})")
        return 0
    from pipelines.runners import kubeflow

    job = kubeflow.compile_job(config, home, candidates(config), output, image=args.image,
                               beam_args=portable_cluster.from_arguments(args), pipeline_root=args.pipeline_root,
                               tracking_uri=tracking_uri(args, home))
    print(f"wrote {job} (Kubeflow Pipelines v2 job, image {args.image})")
    return 0


def add_commands(sub) -> None:
    compile_ = sub.add_parser("compile", help="compile the pipeline for Airflow or Kubeflow Pipelines")
    compile_.add_argument("target", choices=("airflow", "kubeflow"))
    add_common(compile_)
    compile_.add_argument("-o", "--output", required=True,
                          help="airflow: the DAGs folder; kubeflow: the JSON file to write")
    compile_.add_argument("--trainer", default="all", metavar="NAME[,NAME]",
                          help="the candidates to train, as for run")
    compile_.add_argument("--data", help="CSV to use instead of the config's")
    compile_.add_argument("--steps", type=int, help="training steps (overrides the config)")
    compile_.add_argument("--workers", type=int,
                          help="training worker processes, Keras and PyTorch (overrides the config)")
    compile_.add_argument("--schedule", default="@daily", help="airflow: schedule (default: @daily)")
    compile_.add_argument("--retries", type=int, default=2, help="airflow: retries per task")
    compile_.add_argument("--retry-delay", type=int, default=60, help="airflow: seconds between retries")
    compile_.add_argument("--image", default="sluice:latest", help="kubeflow: container image of every step")
    compile_.add_argument("--beam-arg", action="append", default=[],
                          help="Beam argument for every data step (repeatable), e.g. "
                               "--beam-arg=--runner=DataflowRunner")
    portable_cluster.add_arguments(compile_)
    compile_.add_argument("--pipeline-root", help="kubeflow: pipeline root the cluster writes to")
    compile_.set_defaults(func=cmd_compile)
