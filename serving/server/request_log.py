"""The request log (TF Serving's logging_config, which its open-source build lacks):
a sample of the requests the server answered, one CSV row per instance, with the raw
features as the client sent them, the prediction (the class name and each class's
probability, or the value), the model name and version, and the time, in files that
TFDV reads directly (tfdv.generate_statistics_from_csv) to compare serving traffic
with the training data.

Writing is off the request path: a request's rows are appended to a bounded list in
microseconds, and a thread wakes every FLUSH_SECONDS to write all that arrived since
(one wake-up per batch, not per request: a thread woken per request took the GIL
from the event loop thousands of times a second). When the list is full the sample is
dropped and counted (sluice_request_log_dropped in /metrics), never the request slowed
or failed. Files are per model, <dir>/<model>/requests-<time>-<n>.csv, written as .part
and renamed when complete: when they reach the size limit or the age limit (checked
once per flush, so a file may pass the size by one flush's rows; a live server's rows
reach `sluice monitor` within minutes; it also reads a .part file up to its last whole
line), when the model's columns change (a new version with other features), and at a
clean shutdown. After a crash
the next start completes the .part files it finds, up to their last whole line, so a
crash loses at most what was not yet flushed (the writer flushes after each batch: the
last FLUSH_SECONDS of requests).
"""
from __future__ import annotations

import collections
import csv
import logging
import os
import random
import threading
import time
from pathlib import Path

log = logging.getLogger("sluice.serving")
PART = ".part"
QUEUE_REQUESTS = 100_000  # requests waiting to be written (a few MB at taxi sizes)
FLUSH_SECONDS = 0.1  # how often the writer takes what arrived, writes and flushes it
FILE_BYTES = 64 * 2**20
FILE_SECONDS = 300.0
OUT_OF_DOMAIN = "out_of_domain"  # the row's features outside their domain (serving.server.input_domains)


def columns_of(layout) -> list[str]:
    answers = ["prediction"] if layout.regression else ["prediction", *(f"p_{c}" for c in layout.classes)]
    return [*layout.raw_features, *answers, "model", "version", "time", OUT_OF_DOMAIN]


class RequestLog:
    def __init__(self, folder: Path, sample_rate: float = 1.0, file_bytes: int = FILE_BYTES,
                 queue_requests: int = QUEUE_REQUESTS, on_drop=lambda: None, on_rows=lambda n: None,
                 rotate_seconds: float = FILE_SECONDS):
        if not 0 < sample_rate <= 1:
            raise ValueError(f"--sample-rate must be in (0, 1], got {sample_rate}")
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        self.file_bytes = file_bytes
        self.rotate_seconds = rotate_seconds
        self.on_drop, self.on_rows = on_drop, on_rows
        self.queue_requests = queue_requests
        self._pending: collections.deque = collections.deque()  # append and popleft are atomic
        self._stopping = threading.Event()
        self._files: dict[str, _OpenFile] = {}
        self._headers: dict[int, list[str]] = {}  # id(layout) -> its columns (the layout is kept alive by the model)
        self._second = (-1, "")  # the last second stamped, formatted
        self._thread = threading.Thread(target=self._write_all, name="request-log", daemon=True)
        self._random = random.Random()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for part in sorted(self.folder.glob(f"*/*{PART}")):
            _complete_crashed(part)
        self._thread.start()
        log.info("request log: %s of requests to %s", f"{self.sample_rate:.0%}", self.folder)

    def offer(self, loaded, columns: dict[str, list], answers, outside: dict | None = None) -> None:
        """On the request path: costs a random draw and an append (no lock, no wake-up).
        outside: feature -> [(row, value)] outside its domain, marked on those rows."""
        if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
            return
        if len(self._pending) >= self.queue_requests:
            self.on_drop()
            return
        self._pending.append((loaded.name, loaded.version, loaded.model.layout, columns, answers,
                              time.time(), outside or {}))

    def stop(self) -> None:
        """Writes what is pending, then completes every open file."""
        if self._thread.is_alive():
            self._stopping.set()
            self._thread.join()

    def _write_all(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            self._write_pending()
        self._write_pending()
        for open_file in self._files.values():
            open_file.close()
        self._files.clear()

    def _write_pending(self) -> None:
        """Everything that arrived since the last batch, then one flush. Consecutive
        requests to the same model version are formatted as one run of rows."""
        pop, items = self._pending.popleft, []
        for _ in range(len(self._pending)):
            items.append(pop())
        start = 0
        while start < len(items):
            name, layout, end = items[start][0], items[start][2], start + 1
            while end < len(items) and items[end][2] is layout and items[end][0] == name:
                end += 1
            try:
                self.on_rows(self._write_run(items[start:end]))
            except Exception:  # a full disk must not stop the server; the sample is lost
                log.exception("request log: writing failed")
                for _ in range(end - start):
                    self.on_drop()
            start = end
        if items:
            for open_file in self._files.values():
                open_file.flush()

    def _file(self, name: str, layout) -> _OpenFile:
        """The model's open file, a new one when the columns change or it is full or old."""
        header = self._headers.get(id(layout))
        if header is None:  # the layouts served are few: one header each
            header = self._headers[id(layout)] = columns_of(layout)
        current = self._files.get(name)
        if current is not None and (current.header != header or current.size >= self.file_bytes
                                    or time.monotonic() - current.opened >= self.rotate_seconds):
            current.close()
            current = None
        if current is None:
            current = self._files[name] = _OpenFile(self.folder / name, header)
        return current

    def _stamp(self, when: float) -> str:
        second = int(when)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(when % 1 * 1000):03d}Z"

    def _write_run(self, run: list) -> int:
        """Requests of one model version -> their rows in its file; -> rows written
        (csv writes None as '')."""
        name, layout = run[0][0], run[0][2]
        names, classes, regression = tuple(layout.raw_features), layout.classes, layout.regression
        rows = []
        for _, version, _, columns, answers, when, outside in run:
            stamp = self._stamp(when)
            features = [columns[n] for n in names]
            marks: dict[int, list[str]] = {}
            for feature, found in outside.items():
                for row, _ in found:
                    marks.setdefault(row, []).append(feature)
            for i, answer in enumerate(answers.tolist()):
                rows.append([*[f[i] for f in features],
                             answer[0] if regression else classes[answer.index(max(answer))],
                             *([] if regression else answer), name, version, stamp,
                             ";".join(marks.get(i, ()))])
        self._file(name, layout).write(rows)
        return len(rows)


class _OpenFile:
    def __init__(self, folder: Path, header: list[str]):
        folder.mkdir(parents=True, exist_ok=True)
        self.header = header
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = folder / f"requests-{stamp}-{time.time_ns() % 10**9:09d}.csv"
        self._handle = open(self.path.with_name(self.path.name + PART), "wb")
        self.size = 0  # characters: bytes for ASCII, a little under for the rest
        self.opened = time.monotonic()
        self._lines: list[str] = []  # formatted, not yet written: csv calls write() per row
        self._writer = csv.writer(_Lines(self._lines))
        self.write([header])

    def write(self, rows: list[list]) -> None:
        start = len(self._lines)
        self._writer.writerows(rows)
        self.size += sum(map(len, self._lines[start:]))

    def flush(self) -> None:
        """Writes the formatted lines (one join, one encode) and flushes them."""
        if self._lines:
            self._handle.write("".join(self._lines).encode("utf-8"))
            self._lines.clear()
        self._handle.flush()

    def close(self) -> None:
        self.flush()
        self._handle.close()
        os.replace(self.path.with_name(self.path.name + PART), self.path)


class _Lines:
    """A file-like for csv.writer that keeps each formatted row."""

    def __init__(self, lines: list[str]):
        self.write = lines.append


def _complete_crashed(part: Path) -> None:
    """A .part file a crash left: cut to its last whole line and completed."""
    data = part.read_bytes()
    end = data.rfind(b"\n") + 1
    if data.count(b"\n") < 2:  # the header at most: nothing was logged
        part.unlink()
        return
    with open(part, "r+b") as handle:
        handle.truncate(end)
    os.replace(part, part.with_name(part.name[: -len(PART)]))
    log.warning("request log: completed %s, left by a server that did not shut down cleanly",
                part.with_name(part.name[: -len(PART)]))
