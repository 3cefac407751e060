"""Checks the files `sluice predict` is to score against the model that will score
them, before Beam starts, with the training pre-flight's file checks and messages
(missing, empty, binary or UTF-16 files, other delimiters, bad header names): every
column the model reads, and every column to keep, is present; a column the model reads
as a number holds numbers. One pass over each file in pyarrow's C++ CSV reader
(~1 s a million taxi rows on one core) counts the rows and checks the types; only when it
fails does a line-by-line pass in Python find the line and column to name."""
from __future__ import annotations

import csv
import glob
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pyarrow import csv as arrow_csv

from components.executors.preflight import (
    DataError,
    Hashing,
    check_header,
    is_number,
    not_utf8,
    records,
    sniff,
)
from serving.batch import csv_table
from sluice_config.errors import did_you_mean


@dataclass(frozen=True)
class ScoringInput:
    files: list[Path]
    headers: list[tuple[str, ...]]
    rows: int
    sha256: str  # of the files' bytes, in order
    bytes: int


def expand(pattern: str) -> list[Path]:
    """A file, or a glob of files (sorted: the output keeps this order)."""
    path = Path(pattern)
    if glob.has_magic(pattern):
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise DataError(f"--data {pattern}: no file matches the pattern.")
        return found
    if not path.is_file():
        raise DataError(f"data file {path} not found (--data).")
    return [path]


def check(pattern: str, raw_features: dict[str, str], keep: tuple[str, ...] = (),
          model: str = "the model") -> ScoringInput:
    files = expand(pattern)
    digest, headers, rows, size = hashlib.sha256(), [], 0, 0
    types = csv_table.column_types(raw_features, keep)
    for path in files:
        header = _header(path)
        _check_columns(path, header, raw_features, keep, model)
        rows += _count_checked(path, types, raw_features, digest)
        headers.append(tuple(header))
        size += path.stat().st_size
    if rows == 0:
        names = files[0] if len(files) == 1 else f"the {len(files)} files of {pattern}"
        raise DataError(f"{names}: a header but no rows to score.")
    return ScoringInput(files, headers, rows, digest.hexdigest(), size)


def _header(path: Path) -> list[str]:
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty.")
    sniff(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    if not header:
        raise DataError(f"data file {path} is empty.")
    check_header(path, header)
    return header


def _check_columns(path: Path, header: list[str], raw_features: dict[str, str],
                   keep: tuple[str, ...], model: str) -> None:
    for name in raw_features:
        if name not in header:
            raise DataError(f"{path}: column '{name}' is missing; {model} reads it."
                            f"{did_you_mean(name, header)} Columns present: {', '.join(header)}.")
    for name in keep:
        if name not in header:
            raise DataError(f"{path}: --keep column '{name}' is not in the file."
                            f"{did_you_mean(name, header)} Columns present: {', '.join(header)}.")


def _count_checked(path: Path, types: dict[str, pa.DataType], raw_features: dict[str, str],
                   digest) -> int:
    """Rows of the file, every value converted to the model's types; the file's bytes go
    into digest in the same pass (preflight's hashing reader)."""
    rows = 0
    try:
        with open(path, "rb") as raw:
            hashing = Hashing(raw, digest)
            reader = arrow_csv.open_csv(io.BufferedReader(hashing, 1 << 22),
                                        read_options=csv_table.read_options(None, use_threads=True),
                                        convert_options=csv_table.convert_options(types))
            for batch in reader:
                rows += batch.num_rows
            hashing.read()  # to the end, if the reader stopped short
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        _locate(path, raw_features)
        raise DataError(f"{path}: {err}") from None
    return rows


def _locate(path: Path, raw_features: dict[str, str]) -> None:
    """Raises DataError at the first line pyarrow could not read, named as the training
    pre-flight names it; returns if it finds none."""
    numeric = [name for name, kind in raw_features.items() if kind == "number"]
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            checked = [(header.index(n), n) for n in numeric]
            for line, row in records(reader, path, len(header)):
                for i, name in checked:
                    if row[i] != "" and not is_number(row[i]):
                        raise DataError(f"{path}: column '{name}' must be numeric (the model reads "
                                        f"it as a number), but line {line} (column {i + 1}) holds "
                                        f"{row[i]!r}. Fix the data.")
    except UnicodeDecodeError:
        raise not_utf8(path) from None
