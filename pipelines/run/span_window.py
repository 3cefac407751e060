"""The spans a run trains on, checked and put together as the one CSV ExampleGen reads.

Where `data:` is a pattern of spans (sluice_config.spans), the pre-flight checks each
span's files as it checks one CSV (the same messages, naming the span's file and line),
but what holds of the data as a whole (rows enough for each split, a label with two
classes, no feature column empty everywhere) on the window: a span may be many small
part files. Each file is checked once: a file's result is kept under the home's inputs/ by path, size and modification
time, with the config and the schema it was checked against. The window's files are
then joined into inputs/window-<digest>/data.csv (one header, the rows as they are; a
lone plain file is read where it lies), so the pipeline downstream is the one that
reads a single file, and its cache and up-to-date check see the window by content.
Each span's digest goes to the record (the lineage, the report, `sluice reproduce`).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from components.executors import preflight
from pipelines.run import span_ledger
from sluice_config import sources, spans
from sluice_config.config import PipelineConfig

CHECKED_FILE = "checked_files.json"
CHECK_FORMAT = 2  # of a kept result: a new one re-checks every file
PROCESSED_FILE = "spans_processed.json"  # in the home: the newest span a run has judged


@dataclass(frozen=True)
class Window:
    """The spans of one run, oldest first; previous: the span before the newest."""

    pattern: str
    spans: tuple[spans.Span, ...]
    previous: spans.Span | None
    notes: tuple[str, ...] = ()  # the spans left out (pipelines.run.span_ledger), for the step log

    @property
    def newest(self) -> spans.Span:
        return self.spans[-1]

    @property
    def files(self) -> list[Path]:
        return [f for s in self.spans for f in s.files]


def resolve(config: PipelineConfig, wanted: str | None = None, home: Path | None = None) -> Window | None:
    """The window of config.data's spans (None: data is one file, not a pattern). With
    the home, and no span asked for by number, a span that stopped at the data gate is
    left out until re-delivered or accepted (pipelines.run.span_ledger)."""
    if not spans.is_pattern(config.data):
        return None
    found, notes = spans.find(config.data), []
    if home is not None and not wanted and found and span_ledger.any_stopped(home):
        checked = _Checked(home / "inputs")
        found, notes = span_ledger.left_out(
            home, found, lambda s: spans.digest([checked.sha256(f) for f in s.files]))
        checked.save()
        if not found:
            raise preflight.DataError(f"data: every span of {config.data} stopped at the data gate:\n"
                                      + "\n".join(notes))
    chosen = spans.select(found, wanted, config.training.window, str(config.data))
    return Window(str(config.data), tuple(chosen), spans.previous(found, chosen[-1]), tuple(notes))


class _Checked:
    """Per-file results of the pre-flight, kept by path, size and modification time."""

    def __init__(self, staging_dir: Path, config: PipelineConfig | None = None):
        self.path = staging_dir / CHECKED_FILE
        self.entries = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.settings = ""
        if config is not None:  # what a check's result depends on besides the file
            settings = json.dumps([CHECK_FORMAT, config.to_dict(), sources.file_sha256(config.schema)
                                   if config.schema.is_file() else ""], sort_keys=True, default=str)
            self.settings = hashlib.sha256(settings.encode()).hexdigest()[:16]

    @staticmethod
    def _stamp(path: Path) -> str:
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def sha256(self, path: Path) -> str:
        entry = self.entries.get(str(path), {})
        if entry.get("stamp") != self._stamp(path):
            entry = self.entries[str(path)] = {"stamp": self._stamp(path),
                                               "sha256": sources.file_sha256(path)}
        return entry["sha256"]

    def check(self, path: Path, config: PipelineConfig) -> dict:
        entry = self.entries.get(str(path), {})
        if entry.get("stamp") == self._stamp(path) and entry.get("checked") == self.settings:
            return entry
        stamp = self._stamp(path)
        checked = preflight.check_data(config.replace(data=path), part=True)
        entry = self.entries[str(path)] = {
            "stamp": stamp, "sha256": checked.sha256, "checked": self.settings,
            "rows": checked.rows, "columns": list(checked.columns), "notes": checked.notes,
            "filled": checked.filled, "label_counts": checked.label_counts,
            "plain": preflight.plain_header(path, list(checked.columns))}
        return entry

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.entries, indent=1))
        os.replace(partial, self.path)


def window_digest(records: list[dict]) -> str:
    """The window's digest: its spans, versions and their digests, in order."""
    return hashlib.sha256(json.dumps([[r["span"], r["version"], r["sha256"]] for r in records]
                                     ).encode()).hexdigest()


def _identities(found: tuple[spans.Span, ...], staging_dir: Path) -> list[dict]:
    """{span, version, sha256} of each span, from the kept file digests: an unchanged
    file is not read again."""
    checked = _Checked(staging_dir)
    identities = [{"span": s.number, "version": s.version,
                   "sha256": spans.digest([checked.sha256(f) for f in s.files])} for s in found]
    checked.save()
    return identities


def digest(window: Window, staging_dir: Path) -> str:
    """window_digest from the kept file digests (the up-to-date check of a run)."""
    return window_digest(_identities(window.spans, staging_dir))


def record_of(home: Path, span: spans.Span) -> dict:
    """A span as the home's ledger records it: number, version, name, files, sha256."""
    return {**span.key(), "name": span.name, "sha256": _identities((span,), home / "inputs")[0]["sha256"]}


def is_new(home: Path, span: spans.Span) -> bool:
    """Has no run judged this span, at this version and with these contents
    (`sluice spans --new`)?"""
    judged = processed(home)
    identity = _identities((span,), home / "inputs")[0]
    return {k: judged.get(k) for k in identity} != identity


def check_window(config: PipelineConfig, window: Window, staging_dir: Path) -> preflight.CheckedData:
    """Checks every file of the window once, then -> what ExampleGen reads, its rows, the
    window's digest and, in .spans, each span's record (with .previous_span: the span
    before the newest, by digest, for the data gate)."""
    checked = _Checked(staging_dir, config)
    try:
        results = {f: checked.check(f, config) for f in window.files}
        previous = window.previous and {
            **window.previous.key(), "name": window.previous.name,
            "sha256": spans.digest([checked.sha256(f) for f in window.previous.files])}
    finally:
        checked.save()
    header, first = results[window.files[0]]["columns"], window.files[0]
    for path, result in results.items():
        if result["columns"] != header:
            raise preflight.DataError(
                f"{path}: its header differs from {first}'s (every span of {window.pattern} has "
                f"the same columns in the same order): {', '.join(result['columns'])} against "
                f"{', '.join(header)}.")
    records = []
    for span in window.spans:
        digest = spans.digest([results[f]["sha256"] for f in span.files])
        records.append({**span.key(), "name": span.name, "sha256": digest,
                        "rows": sum(results[f]["rows"] for f in span.files)})
    span_ledger.check_unchanged(staging_dir.parent, records)  # staging_dir: <home>/inputs
    window_sha256 = window_digest(records)
    rows = sum(r["rows"] for r in records)
    filled, label_counts = Counter(), Counter()
    for result in results.values():
        filled.update(result["filled"])
        label_counts.update(result["label_counts"])
    label = spans.names_line([s.name for s in window.spans])
    preflight.check_whole(config, f"{window.pattern} ({label})", rows,
                          {c: filled[c] for c in config.feature_names}, dict(label_counts))
    notes = [f"{label}: {rows:,} rows", *window.notes]
    notes += [n for r in results.values() for n in r["notes"]]
    only = window.files[0]
    path = only if len(window.files) == 1 and results[only]["plain"] else joined(
        window.files, header, staging_dir / f"window-{window_sha256[:16]}")
    return preflight.CheckedData(path, rows, notes, window_sha256, tuple(header), records, previous)


def joined(files: list[Path], header: list[str], folder: Path) -> Path:
    """folder/data.csv: one plain header line, then each file's rows byte for byte."""
    target = folder / "data.csv"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        out.write((",".join(header) + "\n").encode())
        for path in files:
            with open(path, "rb") as raw:
                raw.readline()
                last = b"\n"
                for block in iter(lambda: raw.read(1 << 20), b""):
                    out.write(block)
                    last = block[-1:]
                if last != b"\n":
                    out.write(b"\n")
    os.replace(partial, target)
    return target


def newest_against_previous(data: preflight.CheckedData) -> str:
    """The data gate's parameter (JSON): the newest span and the one before it, by files
    and digest, so the cache sees a re-delivery; "" without a previous span."""
    if not data.spans or data.previous_span is None:
        return ""
    keep = ("name", "files", "sha256")
    return json.dumps({"newest": {k: data.spans[-1][k] for k in keep},
                       "previous": {k: data.previous_span[k] for k in keep}}, sort_keys=True)


def stopped_at_data_gate(err: BaseException) -> bool:
    from components.gates.anomalies import DataAnomaliesError
    from components.gates.drift import DataDriftError

    return isinstance(err, (DataAnomaliesError, DataDriftError))


def processed(home: Path) -> dict:
    path = home / PROCESSED_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def remember_processed(home: Path, newest: dict) -> None:
    """The newest span a run judged (pushed, kept the champion, or stopped at a gate):
    a scheduled run with nothing newer has nothing to do (`sluice spans --new`)."""
    (home / PROCESSED_FILE).write_text(json.dumps(newest, indent=2))
