"""The request log (TF Serving's logging_config, which its open-source build lacks):
a sample of the requests the server answered, one CSV row per instance, with the raw
features as the client sent them, the prediction (the class name and each class's
probability, or the value), the model name and version, and the time, in files that
TFDV reads directly (tfdv.generate_statistics_from_csv) to compare serving traffic
with the training data.

Writing is off the request path: a request's rows go on a bounded queue in
microseconds and a thread writes them; when the queue is full the sample is dropped
and counted (sluice_request_log_dropped in /metrics), never the request slowed or
failed. Files are per model, <dir>/<model>/requests-<time>-<n>.csv, written as .part
and renamed when complete: when they reach the size limit or the age limit (a live
server's rows reach `sluice monitor` within minutes; it also reads a .part file up to
its last whole line), when the model's columns change (a new version with other
features), and at a clean shutdown. After a crash
the next start completes the .part files it finds, up to their last whole line, so a
crash loses at most what was not yet flushed (the writer flushes whenever the queue
runs empty).
"""
from __future__ import annotations

import csv
import io
import logging
import os
import queue
import random
import threading
import time
from pathlib import Path

log = logging.getLogger("sluice.serving")
PART = ".part"
QUEUE_REQUESTS = 100_000  # requests waiting to be written (a few MB at taxi sizes)
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
        self._queue: queue.Queue = queue.Queue(queue_requests)
        self._files: dict[str, _OpenFile] = {}
        self._thread = threading.Thread(target=self._write_all, name="request-log", daemon=True)
        self._random = random.Random()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for part in sorted(self.folder.glob(f"*/*{PART}")):
            _complete_crashed(part)
        self._thread.start()
        log.info("request log: %s of requests to %s", f"{self.sample_rate:.0%}", self.folder)

    def offer(self, loaded, columns: dict[str, list], answers, outside: dict | None = None) -> None:
        """On the request path: costs a random draw and a queue put. outside: feature ->
        [(row, value)] outside its domain, marked on those rows."""
        if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
            return
        try:
            self._queue.put_nowait((loaded.name, loaded.version, loaded.model.layout, columns, answers,
                                    time.time(), outside or {}))
        except queue.Full:
            self.on_drop()

    def stop(self) -> None:
        """Writes what is queued, then completes every open file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _write_all(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                self._write(*item)
            except Exception:  # a full disk must not stop the server; the sample is lost
                log.exception("request log: writing failed")
                self.on_drop()
            if self._queue.empty():
                for open_file in self._files.values():
                    open_file.flush()
        for open_file in self._files.values():
            open_file.close()
        self._files.clear()

    def _write(self, name: str, version: int, layout, columns: dict, answers, when: float,
               outside: dict) -> None:
        header = columns_of(layout)
        current = self._files.get(name)
        if current is not None and (current.header != header or current.size >= self.file_bytes
                                    or time.monotonic() - current.opened >= self.rotate_seconds):
            current.close()
            current = None
        if current is None:
            current = self._files[name] = _OpenFile(self.folder / name, header)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"
        features = [columns[n] for n in layout.raw_features]
        answers = answers.tolist()
        marks: dict[int, list[str]] = {}
        for feature, found in outside.items():
            for row, _ in found:
                marks.setdefault(row, []).append(feature)
        rows = []
        for i, answer in enumerate(answers):
            predicted = answer[0] if layout.regression else layout.classes[max(range(len(answer)), key=answer.__getitem__)]
            rows.append([*("" if f[i] is None else f[i] for f in features), predicted,
                         *([] if layout.regression else answer), name, version, stamp,
                         ";".join(marks.get(i, ()))])
        current.write(rows)
        self.on_rows(len(rows))


class _OpenFile:
    def __init__(self, folder: Path, header: list[str]):
        folder.mkdir(parents=True, exist_ok=True)
        self.header = header
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = folder / f"requests-{stamp}-{time.time_ns() % 10**9:09d}.csv"
        self._handle = open(self.path.with_name(self.path.name + PART), "wb")
        self.size = 0
        self.opened = time.monotonic()
        self.write([header])

    def write(self, rows: list[list]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        data = text.getvalue().encode("utf-8")
        self._handle.write(data)
        self.size += len(data)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
        os.replace(self.path.with_name(self.path.name + PART), self.path)


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
