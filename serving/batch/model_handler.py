"""Beam RunInference over a servable model: the one loader the server and the
evaluation gate use, so a batch prediction is what the server would answer, for every
framework sluice serves. An element is one byte range's rows as an Arrow table, scored
in one model call (a batch of its own); RunInference shares the loaded model between
a worker's threads and loads it once per worker process."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from serving.batch import csv_table


class ServableModelHandler(ModelHandler):
    def __init__(self, model_dir: str | Path):
        self._model_dir = str(model_dir)

    def load_model(self):
        from serving.model_format.model import ServableModel

        return ServableModel(self._model_dir)

    def run_inference(self, batch: Sequence, model, inference_args=None) -> Iterable[PredictionResult]:
        raw = model.layout.raw_features
        for table in batch:
            answers = model.predict(csv_table.model_columns(table, raw))
            yield PredictionResult(table, answers, self._model_dir)

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 1}  # an element is a batch already

    def get_num_bytes(self, batch: Sequence) -> int:
        return sum(table.nbytes for table in batch)

    def get_metrics_namespace(self) -> str:
        return "sluice_predict"
