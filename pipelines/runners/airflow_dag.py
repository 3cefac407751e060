"""Airflow DAGs for sluice pipelines: one task per pipeline step.

`sluice compile airflow -o $AIRFLOW_HOME/dags` copies this file next to one JSON spec
per pipeline (sluice_<name>.json: the step graph, the schedule, the retries and the
`sluice run` command of the pipeline's own virtual environment). This file runs inside
Airflow's environment and imports nothing of the pipeline: each task is a shell call to
`sluice run --only <step> --run-id <dag run id>` (after a `sluice spans --new` check
where the data comes in spans: nothing new, nothing runs), so every task of a DAG run lands under
one MLflow parent run, a failed task can be cleared and re-run alone, and the steps
before it are reused from ML Metadata, not recomputed.
"""
from __future__ import annotations

import json
import shlex
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

NEW_SPAN = "new_span"  # the first task where the data comes in spans
NOTHING_NEW = 99  # `sluice spans --new`'s exit code: Airflow marks the task skipped


def build_dag(spec: dict) -> DAG:
    command = " ".join(shlex.quote(part) for part in spec["command"])
    if spec.get("new_span_command"):  # every task trains up to the span the check found
        command += f" --span \"{{{{ ti.xcom_pull(task_ids='{NEW_SPAN}') }}}}\""
    dag = DAG(
        dag_id=spec["dag_id"],
        schedule=spec.get("schedule") or None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,  # runs share one pipeline home and ML Metadata store
        default_args={"retries": spec.get("retries", 2),
                      "retry_delay": timedelta(seconds=spec.get("retry_delay_seconds", 60))},
        tags=["sluice"],
        doc_md=f"sluice pipeline `{spec['dag_id']}`: {len(spec['steps'])} steps, one task each.",
    )
    tasks = {}
    with dag:
        check = None
        if spec.get("new_span_command"):
            check = BashOperator(
                task_id=NEW_SPAN,
                bash_command=" ".join(shlex.quote(part) for part in spec["new_span_command"]),
                skip_on_exit_code=NOTHING_NEW,  # nothing new: every step is skipped
                do_xcom_push=True,  # the span's number, its last line
            )
        for step in spec["steps"]:
            tasks[step["id"]] = BashOperator(
                task_id=step["id"],
                bash_command=f"{command} --only {shlex.quote(step['id'])} --run-id \"$SLUICE_RUN_ID\"",
                env={"SLUICE_RUN_ID": "{{ run_id }}"},
                append_env=True,
            )
        for step in spec["steps"]:
            for upstream in step["upstream"]:
                tasks[upstream] >> tasks[step["id"]]
            if check is not None and not step["upstream"]:
                check >> tasks[step["id"]]
    return dag


for _spec_path in sorted(Path(__file__).parent.glob("sluice_*.json")):
    _spec = json.loads(_spec_path.read_text())
    globals()[_spec["dag_id"]] = build_dag(_spec)
