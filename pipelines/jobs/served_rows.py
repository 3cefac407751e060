"""The rows `sluice monitor` compares with the training data: a request log folder
(<dir>/<model>/*.csv, as `sluice serve --request-log` writes it), a file `sluice
predict` wrote, or any CSV (or glob, or folder) of served rows with the model's raw
feature columns. --since keeps the rows whose `time` column (the request log's, UTC)
is recent enough."""
from __future__ import annotations

import glob
import re
import time
from pathlib import Path

import numpy as np

from components.executors.preflight import DataError

SINCE = re.compile(r"^(?P<count>\d+(?:\.\d+)?)(?P<unit>[smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


PART = ".part"  # serving.server.request_log's file being written


def files(data: str, model_name: str) -> list[Path]:
    """The CSV files of served rows; in a folder also the request log's .part files (a
    live server's newest rows, read up to their last whole line)."""
    path = Path(data)
    skipped = []
    if path.is_dir():
        folder = path / model_name if (path / model_name).is_dir() else path
        every = sorted(p for p in folder.rglob("*") if p.is_file())
        found = [p for p in every if p.name.endswith((".csv", ".csv" + PART))]
        skipped = [p for p in every if p not in found]
    elif glob.has_magic(data):
        found = sorted(Path(p) for p in glob.glob(data, recursive=True))
    else:
        found = [path] if path.is_file() else []
    if not found:
        named = "; skipped (not .csv or .csv.part): " + ", ".join(map(str, skipped[:5])) if skipped else ""
        raise DataError(f"--data {data}: no CSV files of served rows found{named}.")
    return found


def _readable(path: Path):
    """A file's bytes as pandas reads them: a .part file up to its last whole line (or
    the file it became, if the server completed it meanwhile); None for a .part with
    no whole line yet."""
    if not path.name.endswith(PART):
        return path
    import io

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return path.with_name(path.name[: -len(PART)])
    whole = data[: data.rfind(b"\n") + 1]
    return io.BytesIO(whole) if whole else None


def since_epoch(since: str | None, now: float | None = None) -> float | None:
    """'24h', '7d', '30m', '90s', or an ISO date/time (UTC) -> epoch seconds."""
    if not since:
        return None
    match = SINCE.match(since)
    if match:
        return (now or time.time()) - float(match["count"]) * UNIT_SECONDS[match["unit"]]
    import pandas as pd

    try:
        return pd.Timestamp(since, tz="UTC").timestamp()
    except ValueError:
        raise DataError(f"--since {since!r}: write a duration (30m, 24h, 7d) or an ISO time "
                        "(2026-12-01T08:00).") from None


def load(data: str, model_name: str, raw_features: dict[str, str], since: str | None,
         answer_columns: list[str] = ()):
    """-> (DataFrame of the raw features typed as the model reads them, the answers
    recorded with the rows [rows, k] (answer_columns, where all are there: the request
    log's and sluice predict's p_<class>, or a regression's prediction) or None, the
    files read)."""
    import pandas as pd

    paths = files(data, model_name)
    frames = []
    for path in paths:
        readable = _readable(path)
        if readable is None:
            continue
        try:
            frames.append(pd.read_csv(readable, dtype={n: str for n, k in raw_features.items() if k == "string"},
                                      keep_default_na=False, na_values={n: [""] for n in raw_features}))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot be read as CSV ({err}).") from None
    if not frames:
        raise DataError(f"{data}: no served rows yet (the request log's files hold no whole row).")
    frame = pd.concat(frames, ignore_index=True)
    missing = [n for n in raw_features if n not in frame.columns]
    if missing:
        raise DataError(f"{data}: the served rows lack the model's column(s) {', '.join(missing)}.")
    start = since_epoch(since)
    if start is not None:
        if "time" not in frame.columns:
            raise DataError(f"{data}: --since needs a 'time' column (the request log writes one).")
        when = pd.to_datetime(frame["time"], utc=True, errors="coerce")
        frame = frame[when >= pd.Timestamp(start, unit="s", tz="UTC")].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{data}: no served rows{' since ' + since if since else ''}.")
    answers = None
    if answer_columns and all(c in frame.columns for c in answer_columns):
        answers = frame[list(answer_columns)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        if np.isnan(answers).any():
            answers = None  # not the model's answers after all: the model scores the rows
    typed = pd.DataFrame({n: (frame[n].fillna("").astype(str).replace("", np.nan) if k == "string"
                              else pd.to_numeric(frame[n], errors="coerce").astype(np.float64))
                          for n, k in raw_features.items()})
    return typed, answers, paths
