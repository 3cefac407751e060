"""Checks the input CSV against the config and the curated schema before Beam starts,
so the common mistakes get a precise message in a second: missing or empty file,
missing or misspelled column, text in a numeric column."""
from __future__ import annotations

from pathlib import Path

from pipelines.config import ConfigError, PipelineConfig, did_you_mean


class DataError(ValueError):
    """The input data cannot be used; the message names the file, column and row."""


def numeric_columns(schema_path: Path) -> set[str]:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not schema_path.is_file():
        raise ConfigError(f"schema file {schema_path} not found (config key 'schema').")
    schema = text_format.Parse(schema_path.read_text(), schema_pb2.Schema())
    return {f.name for f in schema.feature if f.type in (schema_pb2.INT, schema_pb2.FLOAT)}


def check_data(config: PipelineConfig) -> int:
    """Validates config.data; returns its number of rows."""
    import pandas as pd

    path = config.data
    if not path.is_file():
        raise DataError(f"data file {path} not found (config key 'data' or --data).")
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {path} is empty.") from None
    if frame.empty:
        raise DataError(f"data file {path} has a header but no rows.")
    for column in config.raw_columns:
        if column not in frame.columns:
            raise DataError(
                f"{path}: column '{column}' (named in {config.source or 'the config'}) is "
                f"missing.{did_you_mean(column, frame.columns)} "
                f"Columns present: {', '.join(frame.columns)}."
            )
    for column in sorted(numeric_columns(config.schema) & set(config.raw_columns)):
        values = frame[column]
        present = values != ""
        bad = present & pd.to_numeric(values.where(present), errors="coerce").isna()
        if bad.any():
            row = int(bad.idxmax())
            raise DataError(
                f"{path}: column '{column}' must be numeric, but row {row + 2} "
                f"(line {row + 2} of the file) holds {values[row]!r}"
                f" ({int(bad.sum())} such rows). Fix the data or the schema."
            )
    return len(frame)
