"""The data a pipeline run read, as its parent run's MLflow dataset (name, digest,
source, rows): `sluice run` logs it from its pre-flight's one pass before the first
step; a compiled job's ExampleGen from the files it read (their sha256 in one pass, in
path order, as the pre-flight hashes them). Client calls, with the store passed in."""
from __future__ import annotations

import glob
import hashlib
import json
import os

from mlflow.tracking import MlflowClient

from components.recording import shared_writes
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


def files_read(exec_properties: dict) -> list[str]:
    """The files ExampleGen's splits named (its driver resolved any span first)."""
    from google.protobuf import json_format
    from tfx.proto import example_gen_pb2

    base = exec_properties["input_base"]
    splits = json_format.Parse(exec_properties["input_config"], example_gen_pb2.Input()).splits
    return sorted({path for split in splits for path in glob.glob(os.path.join(base, split.pattern))})


def log_files_read(parent: ParentRun, exec_properties: dict) -> None:
    """A compiled job's data: the files its ExampleGen read, on the job's parent run."""
    files = files_read(exec_properties)
    if not files:
        return
    digest, rows, columns = hashlib.sha256(), 0, 0
    for path in files:
        with open(path, "rb") as handle:
            header = handle.readline()
            digest.update(header)
            columns = max(columns, header.count(b",") + 1)
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                rows += block.count(b"\n")
    name = os.path.basename(files[0]) if len(files) == 1 else f"{len(files)} files"
    source = files[0] if len(files) == 1 else os.path.dirname(files[0])
    client = parent.client
    log_csv(client, parent.run_id, source, name, digest.hexdigest(), rows, columns)
    client.set_tag(parent.run_id, "sluice.data_files", json.dumps(files)[:5000])
