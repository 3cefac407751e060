"""The training batches both trainers take, step by step: the same rows in the same
order for Keras and PyTorch, from one seed, so the two differ only in the framework.

Two sources, chosen by the size of the transformed train split:

- in memory (up to `training.memory_budget_mb`): the split is loaded once, in one
  canonical row order, and step s trains on rows drawn with replacement by a seeded
  generator, whatever order the files hold;
- streamed (above it): a tf.data pipeline reads the gzipped TFRecords, shuffles them
  in a buffer of SHUFFLE_BUFFER examples seeded by the same seed, and batches them;
  memory stays bounded whatever the split's size. Streamed batches follow the order of
  the files (sluice's ExampleGen keeps the CSV's order).

With several workers each one takes its share of every step: rows rank, rank + N, ...
of the global batch in memory; every N-th example of the stream, in batches of
batch_size / N, when streamed.
"""
from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import tensorflow as tf

from serving.model_format.layout import LABEL_KEY, FeatureLayout
from sluice_config.config import Training
from trainers.distributed import Worker

SHUFFLE_BUFFER = 10_000  # examples held for shuffling when streamed
READ_BATCH = 4096


@dataclass
class Batches:
    """Iterates (inputs {model input name: [batch] array}, labels) for each training step."""

    steps: Iterator[tuple[dict[str, np.ndarray], np.ndarray]]
    streamed: bool
    example: dict[str, np.ndarray]  # a few rows' inputs, for tracing an export


def training_batches(files: list[str], tft_output, layout: FeatureLayout, training: Training,
                     steps: int, worker: Worker = Worker()) -> Batches:
    """This worker's batches for `steps` steps, streamed when the split is over budget."""
    files = sorted(f for pattern in files for f in tf.io.gfile.glob(pattern))
    spec = tft_output.transformed_feature_spec()
    if uncompressed_mb(files) > training.memory_budget_mb:
        return streamed(files, spec, layout, training, steps, worker)
    inputs, labels = load_examples(files, spec, layout)
    return in_memory(inputs, labels, training, steps, worker)


def in_memory(inputs: dict[str, np.ndarray], labels: np.ndarray, training: Training, steps: int,
              worker: Worker = Worker()) -> Batches:
    """Batches drawn from rows held in memory: step s trains on the seeded draw s."""
    order = batch_order(len(labels), steps, training.batch_size, training.seed)[:, worker.rank::worker.count]
    return peeked(((({k: v[r] for k, v in inputs.items()}), labels[r]) for r in order), False)


@dataclass
class TuningSplit:
    """The train split cut in two for tuning: trials train on `train` and are scored on
    `tuning`; the eval split, which the gate judges on, is not read at all."""

    train: tuple[dict[str, np.ndarray], np.ndarray]
    tuning: tuple[dict[str, np.ndarray], np.ndarray]


def tuning_split(files: list[str], tft_output, layout: FeatureLayout, training: Training,
                 fraction: float, seed: int) -> TuningSplit:
    """A seeded share (fraction) of the train split's rows, in their canonical order, held
    out as the tuning split: the same data and seed give the same rows. The split is
    held in memory (up to training.memory_budget_mb), or refused with what to do."""
    files = sorted(f for pattern in files for f in tf.io.gfile.glob(pattern))
    size = uncompressed_mb(files)
    if size > training.memory_budget_mb:
        raise ValueError(f"tuning holds the train split in memory: {size:.0f} MB of transformed "
                         f"examples is over training.memory_budget_mb ({training.memory_budget_mb}); "
                         "raise it, or tune on a sample of the data (a config of its own).")
    inputs, labels = load_examples(files, tft_output.transformed_feature_spec(), layout)
    held = np.random.default_rng(seed).permutation(len(labels)) < round(len(labels) * fraction)
    if held.all() or not held.any():
        raise ValueError(f"the train split has {len(labels)} rows: too few to hold out "
                         f"{fraction:.0%} of them for tuning.")
    return TuningSplit(train=({k: v[~held] for k, v in inputs.items()}, labels[~held]),
                       tuning=({k: v[held] for k, v in inputs.items()}, labels[held]))


def peeked(steps: Iterator, streamed: bool) -> Batches:
    """Batches whose example is the first batch's first rows (the batches are unchanged)."""
    first = next(steps)
    return Batches(itertools.chain([first], steps), streamed, {k: v[:8] for k, v in first[0].items()})


def uncompressed_mb(files: list[str]) -> float:
    """The split's size uncompressed, from each gzip file's trailer (ISIZE: the size mod
    2**32), without reading the data. A wrapped size (a file over 4 GB) reads as smaller
    than the compressed file, and counts as its compressed size times 10."""
    total = 0
    for name in files:
        with tf.io.gfile.GFile(name, "rb") as f:
            size = f.size()
            f.seek(max(size - 4, 0))
            isize = struct.unpack("<I", f.read(4))[0] if size >= 4 else 0
        total += isize if isize >= size else size * 10
    return total / 2**20


def columns(parsed: dict) -> dict[str, np.ndarray]:
    """A parsed batch of transformed examples -> one numpy column per feature."""
    return {key: value.numpy().reshape(len(value), -1)[:, 0] for key, value in parsed.items()}


def load_examples(files: list[str], spec: dict, layout: FeatureLayout):
    """Transformed TFRecords -> (the model's input columns, labels), in one canonical
    row order."""
    parts: dict[str, list] = {}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(READ_BATCH)
    for batch in dataset.map(lambda x: tf.io.parse_example(x, spec)):
        for key, value in columns(batch).items():
            parts.setdefault(key, []).append(value)
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    # ExampleGen ends in a Beam Reshuffle, so the same rows can arrive in another
    # order, and the seeded batches would then pick other rows (a reproduction would
    # train a different model).
    order = np.lexsort([arrays[key] for key in sorted(arrays, reverse=True)])
    arrays = {key: values[order] for key, values in arrays.items()}
    return layout.columns(arrays), arrays[LABEL_KEY].astype(layout.label_dtype)


def batch_order(rows: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """Row indices for every training step, [steps, batch_size], seeded."""
    return np.random.default_rng(seed).integers(0, rows, size=(steps, batch_size))


def streamed(files: list[str], spec: dict, layout: FeatureLayout, training: Training,
             steps: int, worker: Worker) -> Batches:
    """Batches read from the TFRecords as training goes, never the whole split."""
    per_worker = training.batch_size // worker.count
    tf.random.set_seed(training.seed)  # the shuffle's seed pair is (global, op): fix both
    dataset = (tf.data.TFRecordDataset(files, compression_type="GZIP")
               .shard(worker.count, worker.rank)
               .repeat()
               .shuffle(SHUFFLE_BUFFER, seed=training.seed)
               .batch(per_worker, drop_remainder=True)
               .map(lambda x: tf.io.parse_example(x, spec))
               .take(steps)
               .prefetch(2))

    def step_batches():
        for parsed in dataset:
            arrays = columns(parsed)
            yield layout.columns(arrays), arrays[LABEL_KEY].astype(layout.label_dtype)

    return peeked(step_batches(), True)
