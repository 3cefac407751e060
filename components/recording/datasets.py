"""The data a pipeline run read, as its parent run's MLflow dataset (name, digest,
source, rows): `sluice run` logs it from its pre-flight's one pass before the first
step; on a compiled job, ExampleGen runs the same pre-flight, and its step logs what
that found. Client calls, with the store passed in."""
from __future__ import annotations

import glob
import json
import os

from mlflow.tracking import MlflowClient

from components.recording import shared_writes
from components.recording.step import Step
from components.recording.step_run import ParentRun


def log_csv(client: MlflowClient, run_id: str, source: str, name: str, sha256: str, rows: int,
            columns: int) -> str:
    """The CSV data as run_id's training dataset, with the sluice.data_* tags -> its digest.
    Runs of other homes may log the same file (name and digest) at this moment: MLflow
    then inserts the same dataset row twice (a unique violation), and the loser repeats."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Dataset, DatasetInput, InputTag

    described = MetaDataset(resolve_dataset_source(source), name=name, digest=sha256[:8]).to_dict()
    entity = DatasetInput(Dataset(name=name, digest=sha256[:8], source_type=described["source_type"],
                                  source=described["source"],
                                  profile=json.dumps({"num_rows": rows, "num_elements": rows * columns})),
                          tags=[InputTag("mlflow.data.context", "training")])
    client.set_tag(run_id, "sluice.data_sha256", sha256)
    shared_writes.retried(lambda: client.log_inputs(run_id, datasets=[entity]))
    client.set_tag(run_id, "sluice.data_digest", sha256[:8])
    return sha256[:8]


def log_files_read(parent: ParentRun, example_gen: Step) -> None:
    """A compiled job's data, on the job's parent run: the files its ExampleGen read, with
    what ExampleGen's own pre-flight found of them (components.executors.csv_examples)."""
    from components.artifacts import tfx_layout
    from components.executors.csv_examples import DATA_FACTS

    examples = example_gen.output("examples")
    found = tfx_layout.custom_properties(examples) if examples is not None else {}
    if not all(found.get(k) for k in DATA_FACTS):
        return
    sha256, rows, columns = (found[k] for k in DATA_FACTS)
    properties = example_gen.properties
    files = sorted(glob.glob(os.path.join(properties["input_base"], _pattern(properties["input_config"]))))
    name = os.path.basename(files[0]) if len(files) == 1 else f"{len(files)} files"
    source = files[0] if len(files) == 1 else os.path.dirname(files[0])
    client = parent.client
    log_csv(client, parent.run_id, source, name, sha256, int(rows), int(columns))
    client.set_tag(parent.run_id, "sluice.data_files", json.dumps(files)[:5000])


def _pattern(input_config: str) -> str:
    from google.protobuf import json_format
    from tfx.proto import example_gen_pb2

    return json_format.Parse(input_config, example_gen_pb2.Input()).splits[0].pattern
