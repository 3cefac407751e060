"""Reads what TFX recorded in ML Metadata: the executions of one run, their inputs and
outputs, so the step log and the MLflow lineage describe what really happened."""
from __future__ import annotations

from pathlib import Path

from components.artifacts import tfx_layout
from components.recording.step import Step

STATES = {1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED", 6: "CANCELED"}


def open_store(path: Path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def steps_of_run(path: Path, pipeline_run_id: str) -> list[Step]:
    """The executions of one pipeline run (its TFX pipeline_run context), in the order
    they ran; another run working on the same store at the same time is not included."""
    if not path.exists():
        return []
    store = open_store(path)
    context = store.get_context_by_type_and_name("pipeline_run", pipeline_run_id)
    if context is None:
        return []
    return steps_of(store, store.get_executions_by_context(context.id))


def steps_of(store, executions) -> list[Step]:
    from ml_metadata.proto import metadata_store_pb2 as pb

    node_types = {t.id: t.name for t in store.get_context_types()}
    steps = []
    for execution in sorted(executions, key=lambda e: e.id):
        contexts = store.get_contexts_by_execution(execution.id)
        node = next(c.name.split(".", 1)[1] for c in contexts if node_types[c.type_id] == "node")
        step = Step(
            execution_id=execution.id, node_id=node,
            state=STATES.get(execution.last_known_state, "UNKNOWN"),
            start_ms=execution.create_time_since_epoch,
            end_ms=execution.last_update_time_since_epoch,
            properties={k: v for k, v in tfx_layout.custom_properties(execution).items()
                        if not k.startswith("__")},
        )
        events = store.get_events_by_execution_ids([execution.id])
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        for event in events:
            key = event.path.steps[0].key if event.path.steps else "?"
            side = step.inputs if event.type == pb.Event.INPUT else step.outputs
            if event.type in (pb.Event.INPUT, pb.Event.OUTPUT):
                side.setdefault(key, []).append(artifacts[event.artifact_id])
        steps.append(step)
    return steps
