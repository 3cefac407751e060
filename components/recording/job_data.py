"""The data a compiled job read, on its parent run: `sluice run` logs it from its
pre-flight before the first step; on a job, ExampleGen's step logs the files it read
(their sha256 in one pass, in path order, as the pre-flight hashes them) as the run's
MLflow dataset."""
from __future__ import annotations

import glob
import hashlib
import json
import os

from components.recording.step_run import ParentRun


def files_read(exec_properties: dict) -> list[str]:
    """The files ExampleGen's splits named (its driver resolved any span first)."""
    from google.protobuf import json_format
    from tfx.proto import example_gen_pb2

    base = exec_properties["input_base"]
    splits = json_format.Parse(exec_properties["input_config"], example_gen_pb2.Input()).splits
    return sorted({path for split in splits for path in glob.glob(os.path.join(base, split.pattern))})


def log_dataset(parent: ParentRun, exec_properties: dict) -> None:
    """The files as the parent run's training dataset, with their digest and rows."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    from components.recording import shared_writes

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
    sha256 = digest.hexdigest()

    class CsvDataset(MetaDataset):
        @property
        def profile(self):
            return {"num_rows": rows, "num_elements": rows * columns}

    name = os.path.basename(files[0]) if len(files) == 1 else f"{len(files)} files"
    dataset = CsvDataset(resolve_dataset_source(files[0] if len(files) == 1 else os.path.dirname(files[0])),
                         name=name, digest=sha256[:8])
    client = parent.client
    client.set_tag(parent.run_id, "sluice.data_sha256", sha256)
    client.set_tag(parent.run_id, "sluice.data_digest", dataset.digest)
    client.set_tag(parent.run_id, "sluice.data_files", json.dumps(files)[:5000])
    entity = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "training")])
    shared_writes.retried(lambda: client.log_inputs(parent.run_id, datasets=[entity]))
