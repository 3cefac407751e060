"""Checks the input CSV against the config and the curated schema before Beam starts,
in one streaming pass, so bad input gets a precise message (file, line, column) in
seconds instead of an internal error minutes later inside Beam or ML Metadata.

Refused (DataError, exit 2): a missing, empty, binary or non-UTF-8 file; a delimiter
other than a comma; empty, duplicate or comma-holding header names; ragged rows (too
few or too many fields); a quoted field spanning lines; a field over the size limit;
a missing column; a value that does not parse as a number in a column the schema
types INT/FLOAT or the config declares numeric, bucketized or identity (dates, words,
`1,122.5`); a feature column with no values; a label with no values, one class only,
values outside the configured classes, or text values where no `label.classes` are
given; too few rows for the split; a file that is exactly two copies of itself.

Accepted as valid CSV: a UTF-8 byte-order mark, CRLF line endings, quoted fields and
quoted commas; blank lines are skipped (as pyarrow, pandas and Spark read them) and
counted; repeated rows (survey, event and low-cardinality data repeat by nature) are
counted and reported. TFX's CsvExampleGen splits the header line on commas itself, so when
the header is quoted or starts with a byte-order mark, ExampleGen reads a copy whose
header line is plain (the rows are copied byte for byte).
"""
from __future__ import annotations

import array
import csv
import hashlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sluice_config.config import PipelineConfig
from sluice_config.errors import ConfigError, did_you_mean
from sluice_config.label_rule import parse_rule

BOM = b"\xef\xbb\xbf"
MIN_SPLIT_ROWS = 20  # fewer eval rows make every gate metric noise
DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


class DataError(ValueError):
    """The input data cannot be used; the message names the file, line and column."""


@dataclass
class CheckedData:
    path: Path  # what ExampleGen reads: the file itself, or a copy with a plain header
    rows: int
    notes: list[str] = field(default_factory=list)  # accepted oddities, for the log
    sha256: str = ""  # of the file as given, hashed in the same pass
    columns: tuple[str, ...] = ()
    # Where data is a pattern of spans (pipelines.run.span_window): each span's record,
    # and the span before the newest, which the data gate compares the newest with.
    spans: list[dict] = field(default_factory=list)
    previous_span: dict | None = None
    # feature column -> rows holding a value, and the label's classes -> rows: a part of
    # a window of spans adds them up for check_whole.
    filled: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)


class Hashing(io.RawIOBase):
    """A binary file that hashes what is read through it, so the checks and the digest
    share one pass over the data."""

    def __init__(self, raw, sha256=None):
        self.raw, self.sha256 = raw, sha256 or hashlib.sha256()  # a shared one: several files, one digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count


NUMBER_KINDS = ("numeric", "bucketized", "identity")  # FeatureKinds Transform casts to numbers


def numeric_columns(schema_path: Path) -> set[str]:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not schema_path.is_file():
        raise ConfigError(f"schema file {schema_path} not found (config key 'schema').")
    schema = text_format.Parse(schema_path.read_text(), schema_pb2.Schema())
    return {f.name for f in schema.feature if f.type in (schema_pb2.INT, schema_pb2.FLOAT)}


def number_columns(config: PipelineConfig) -> dict[str, str]:
    """column -> why it must hold numbers: the schema types it INT/FLOAT, or the config
    gives it a kind that Transform casts to a number."""
    why = {c: "the schema types it as a number" for c in numeric_columns(config.schema)
           if c in config.raw_columns}
    for feature in config.features:
        if str(feature.kind) in NUMBER_KINDS:
            why[feature.name] = f"features.{feature.name} is {feature.kind} in the config"
    if config.task == "regression":
        why[config.label.column] = "it is the label of a regression task"
    return why


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_undecodable_line(path: Path) -> tuple[int, int, int]:
    """(line, column, byte) of the first bytes that are not UTF-8."""
    with open(path, "rb") as raw:
        for number, line in enumerate(raw, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return number, len(line[: err.start].decode("utf-8")) + 1, line[err.start]
    return 0, 0, 0


def records(reader, path: Path, width: int, blanks: list[int] | None = None):
    """(line, row) of each record after the header; refuses a quoted field spanning
    lines and a row with another number of fields than the header. A blank line is
    skipped, as ExampleGen's reader skips it, and counted in blanks[0]."""
    previous = reader.line_num
    for row in reader:
        line, start, previous = reader.line_num, previous + 1, reader.line_num
        if line != start:
            raise DataError(f"{path}: line {start}: a quoted field spans several lines; sluice "
                            "reads one record per line, as CsvExampleGen does. Remove the line "
                            "breaks inside fields.")
        if not row:
            if blanks is not None:
                blanks[0] += 1
            continue
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {width}. "
                            "Fix the row (a missing or extra comma, or an unquoted comma inside "
                            "a value).")
        yield line, row


def not_utf8(path: Path) -> DataError:
    line, column, byte = _first_undecodable_line(path)
    return DataError(f"{path}: line {line}, column {column}: byte 0x{byte:02x} is not UTF-8 (the "
                     "file may be Latin-1 or Windows-1252). Save it as UTF-8.")


def sniff(path: Path) -> bool:
    """Refuses binary and UTF-16 files by their first bytes; -> has a UTF-8 BOM."""
    with open(path, "rb") as raw:
        head = raw.read(8192)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path}: the file is UTF-16 encoded; save it as UTF-8 CSV.")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}: this looks like a binary file (a NUL byte at byte {nul}), "
                        "not a CSV text file.")
    return head.startswith(BOM)


def check_header(path: Path, header: list[str]) -> None:
    if len(header) == 1:
        for delimiter, name in DELIMITERS.items():
            if delimiter in header[0]:
                raise DataError(
                    f"{path}: line 1 has a single column; the file looks {name}-delimited "
                    f"({header[0][:60]!r}). sluice reads comma-separated files: save it "
                    "as CSV with commas.")
    seen: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        if not name.strip():
            raise DataError(f"{path}: line 1, column {number}: the header name is empty; "
                            "name every column.")
        if "," in name:
            raise DataError(f"{path}: line 1, column {number}: the header name {name!r} "
                            "holds a comma; rename the column.")
        if name in seen:
            raise DataError(f"{path}: line 1: the header name '{name}' appears twice "
                            f"(columns {seen[name]} and {number}); rename one of them.")
        seen[name] = number


class _Label:
    """Counts the label's classes as rows stream by (a column, or a derive rule)."""

    def __init__(self, config: PipelineConfig, index: dict[str, int], path: Path):
        self.config, self.path, self.counts = config, path, {}
        self.text_values: dict[str, int] = {}  # value -> first line, where numbers are due
        label = config.label
        self.rule = parse_rule(label.derive) if label.derive else None
        self.column = index[label.column] if label.column else None
        if self.rule:
            self.left = index[self.rule["column"]]
            self.right = index.get(self.rule["other"])

    def add(self, row: list[str], line: int) -> None:
        if self.column is not None:
            value = row[self.column]
            if value == "":
                return
            if self.config.task == "regression":  # numbers (checked as a number column)
                if len(self.counts) < 2:
                    self.counts[value] = self.counts.get(value, 0) + 1
                return
            classes = self.config.label.classes
            if not classes and value not in self.text_values and not is_number(value):
                self.text_values[value] = line
            if classes and value not in classes:
                raise DataError(
                    f"{self.path}: line {line}, column {self.column + 1} "
                    f"('{self.config.label.column}'): label value {value!r} is not one of "
                    f"the configured classes ({', '.join(classes)}). Fix the row or add the "
                    "class to label.classes.")
        else:
            left = row[self.left]
            right = row[self.right] if self.right is not None else self.rule["other"]
            if not (is_number(left) and is_number(right)):
                return
            ops = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}
            value = ops[self.rule["op"]](float(left), self.rule["scale"] * float(right))
        self.counts[value] = self.counts.get(value, 0) + 1

    def check_text(self) -> None:
        """Refuses text in a label column without label.classes (a per-row fault)."""
        if self.text_values:
            found = sorted(self.counts)
            shown = ", ".join(repr(v) for v in found[:10]) + (", ..." if len(found) > 10 else "")
            value, line = next(iter(self.text_values.items()))
            quoted = ", ".join(f"'{v}'" for v in found[:10])
            raise DataError(
                f"{self.path}: line {line}, column {self.column + 1} "
                f"('{self.config.label.column}'): the label holds text ({value!r}; values "
                f"found: {shown}) and the config lists no label.classes, so it cannot be "
                f"read as a class id. List the classes in index order, quoted: "
                f"`label: {{column: {self.config.label.column}, classes: [{quoted}]}}`.")

    def shown_counts(self) -> dict[str, int]:
        """class (or value) as the messages show it -> rows: what check_whole reads, and
        what a part of a window of spans adds up (pipelines.run.span_window)."""
        return {repr(value): count for value, count in self.counts.items()}


def check_whole(config: PipelineConfig, where, rows: int, filled: dict[str, int],
                label_counts: dict[str, int]) -> None:
    """What holds of the data as a whole, not of each file of a window of spans: enough
    rows for every split, no feature column empty everywhere, a label with values and at
    least two classes (or values)."""
    total = sum(config.split.values())
    for split, buckets in sorted(config.split.items(), key=lambda item: item[1]):
        expected = rows * buckets / total
        if expected < MIN_SPLIT_ROWS:
            raise DataError(
                f"{where}: {rows:,} rows; the {split} split ({buckets} of {total} hash "
                f"buckets) would get about {expected:.0f}, and each split needs at least "
                f"{MIN_SPLIT_ROWS}. Give at least {MIN_SPLIT_ROWS * total // buckets} rows.")
    for column, count in filled.items():
        if count == 0:
            raise DataError(f"{where}: feature column '{column}' is empty in all {rows:,} "
                            "rows; fill it or remove it from the config's features.")
    name = config.label.column or config.label.derive
    if not label_counts:
        raise DataError(f"{where}: the label ({name}) has no value in any of the {rows:,} rows.")
    if len(label_counts) < 2 and config.task == "regression":
        raise DataError(f"{where}: the label ({name}) holds a single value "
                        f"({next(iter(label_counts))}); there is nothing to predict.")
    if len(label_counts) < 2:
        only = next(iter(label_counts))
        raise DataError(
            f"{where}: the label ({name}) has a single class ({only} in all "
            f"{label_counts[only]:,} labelled rows); a classifier needs at least two.")


def check_data_in_background(config: PipelineConfig, staging_dir: Path | None = None):
    """check_data in a child process -> a Future of its CheckedData, which raises what
    check_data raises. A run starts it before it imports the pipeline's libraries (~7 s
    on one core), so the pass over the CSV (pure Python, ~8 s a million rows) runs on
    another core meanwhile. A fresh interpreter (spawn), not a fork: the caller may
    hold threads (MLflow, gRPC) whose locks a fork would copy."""
    return in_background(check_data, config, staging_dir)


def in_background(check, *args):
    """check(*args) in a fresh child process -> a Future of its result (a window of
    spans: pipelines.run.span_window.check_window)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    checked = pool.submit(check, *args)
    pool.shutdown(wait=False)  # the child exits once the check is done
    return checked


def check_data(config: PipelineConfig, staging_dir: Path | None = None,
               part: bool = False) -> CheckedData:
    """Validates config.data in one pass; -> what ExampleGen should read, and the rows.
    part: the file is one of a window of spans; what holds of the data as a whole
    (check_whole) is checked on the window, from the counts returned."""
    path = config.data
    if not path.is_file():
        raise DataError(f"data file {path} not found (config key 'data' or --data).")
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty.")
    sniff(path)
    numeric = number_columns(config)
    rows, blank, row_hashes = 0, 0, array.array("q")  # 8 bytes a row: a set took ~80
    try:
        with open(path, "rb") as raw, io.TextIOWrapper(
                io.BufferedReader(hashing := Hashing(raw), 1 << 20), encoding="utf-8-sig",
                newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"data file {path} is empty.")
            check_header(path, header)
            index = {name: i for i, name in enumerate(header)}
            for column in config.raw_columns:
                if column not in index:
                    raise DataError(
                        f"{path}: column '{column}' (named in {config.source or 'the config'})"
                        f" is missing.{did_you_mean(column, header)} "
                        f"Columns present: {', '.join(header)}.")
            label = _Label(config, index, path)
            checked = [(index[c], c) for c in sorted(numeric)]
            filled = {c: 0 for c in config.feature_names}
            blanks = [0]
            for line, row in records(reader, path, len(header), blanks):
                rows += 1
                for i, column in checked:
                    value = row[i]
                    if value != "" and not is_number(value):
                        raise DataError(
                            f"{path}: column '{column}' must be numeric, but line {line} "
                            f"(column {i + 1}) holds {value!r} ({numeric[column]}). Fix the "
                            "data, or declare the column categorical in the config and "
                            "STRING (BYTES) in the schema.")
                for column in filled:
                    filled[column] += row[index[column]] != ""
                label.add(row, line)
                row_hashes.append(hash(tuple(row)))
            handle.read()  # to the end, so the digest covers the whole file
            blank = blanks[0]
            sha256 = hashing.sha256.hexdigest()
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except csv.Error as err:
        raise DataError(f"{path}: line {reader.line_num}: {err}. sluice reads one "
                        "record per line with fields up to "
                        f"{csv.field_size_limit():,} characters.") from None
    if rows == 0:
        raise DataError(f"data file {path} has a header but no rows.")
    duplicates = rows - _distinct(row_hashes)
    _check_copies(path, rows, row_hashes)
    label.check_text()
    if not part:
        check_whole(config, path, rows, filled, label.shown_counts())
    notes = [f"{path.name}: {duplicates:,} of {rows:,} rows ({duplicates / rows:.1%}) repeat "
             "earlier rows"] if duplicates else []
    if blank:
        notes.append(f"{path.name}: {blank:,} blank line(s) skipped")
    counts = {"filled": filled, "label_counts": label.shown_counts()}
    if staging_dir is None or plain_header(path, header):
        return CheckedData(path, rows, notes, sha256, tuple(header), **counts)
    notes.append(f"{path.name}: quoted header or byte-order mark; ExampleGen reads a copy "
                 "with a plain header line")
    return CheckedData(_plain_header_copy(path, header, staging_dir, sha256), rows, notes, sha256,
                       tuple(header), **counts)


def plain_header(path: Path, header: list[str]) -> bool:
    """Does the file's first line split on commas into the header, with no byte-order
    mark (as CsvExampleGen splits it)?"""
    with open(path, "rb") as raw:
        first = raw.readline()
    return not first.startswith(BOM) and first.decode("utf-8").rstrip("\r\n").split(",") == header


def _distinct(hashes: array.array) -> int:
    import numpy as np

    return len(np.unique(np.frombuffer(hashes, np.int64)))


def _two_copies(hashes: array.array) -> bool:
    """Is the file's body exactly two copies of the same rows (a file appended to
    itself)? Compared by row hash, half against half."""
    import numpy as np

    rows = np.frombuffer(hashes, np.int64)
    half = len(rows) // 2
    return len(rows) % 2 == 0 and half > 0 and bool(np.array_equal(rows[:half], rows[half:]))


def _check_copies(path: Path, rows: int, hashes: array.array) -> None:
    if _two_copies(hashes):
        raise DataError(
            f"{path}: the second half of the file ({rows // 2:,} rows) repeats the first "
            "row for row; the file was appended to itself. Remove the second copy.")


def _plain_header_copy(path: Path, header: list[str], staging_dir: Path, sha256: str) -> Path:
    """<staging_dir>/<content digest>/<name>: the header line plain, the rows as they are."""
    target = staging_dir / sha256[:16] / path.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with open(path, "rb") as raw, open(partial, "wb") as out:
            raw.readline()
            out.write((",".join(header) + "\n").encode())
            shutil.copyfileobj(raw, out)
        partial.rename(target)
    return target


def check_files(config: PipelineConfig, files: list[Path]) -> tuple[str, int, int]:
    """The pre-flight of the files a compiled job's ExampleGen reads (it runs there, as
    `sluice run` runs it before Beam): the same checks, the same messages. -> (sha256,
    rows, columns): one file's sha256 as `sluice run` records it; for several (a span
    of several files), the sha256 of their digests in path order, and what holds of
    the data as a whole left to each file."""
    if not files:
        check_data(config)  # names the data that is not there, as `sluice run` does
    if len(files) == 1:
        checked = check_data(config.replace(data=files[0]))
        return checked.sha256, checked.rows, len(checked.columns)
    parts = [check_data(config.replace(data=path), part=True) for path in files]
    digest = hashlib.sha256("".join(p.sha256 for p in parts).encode()).hexdigest()
    return digest, sum(p.rows for p in parts), len(parts[0].columns)
