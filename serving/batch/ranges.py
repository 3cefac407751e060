"""A CSV file cut into byte ranges that start and end on line breaks, so workers read
their parts of one file independently and the parts, in index order, are the file's
rows in order. Valid because the scoring pre-flight refuses a quoted field that spans
lines (as the training pre-flight does): every line break ends a record."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RANGE_BYTES = 4 * 2**20  # ~30k taxi rows: one model call each, a few MB of memory


@dataclass(frozen=True)
class ByteRange:
    index: int  # the part's place in the output
    path: str
    start: int
    end: int
    header: tuple[str, ...]  # the file's column names (the range holds no header line)


def header_end(path: Path) -> int:
    """The offset of the first byte after the header line."""
    with open(path, "rb") as handle:
        handle.readline()
        return handle.tell()


def split(paths: list[Path], headers: list[tuple[str, ...]], range_bytes: int = RANGE_BYTES) -> list[ByteRange]:
    ranges: list[ByteRange] = []
    for path, header in zip(paths, headers):
        size = path.stat().st_size
        start = header_end(path)
        with open(path, "rb") as handle:
            while start < size:
                handle.seek(min(start + range_bytes, size))
                handle.readline()  # on to the end of the line the cut falls in
                end = min(handle.tell(), size)
                ranges.append(ByteRange(len(ranges), str(path), start, end, header))
                start = end
    return ranges


def read_bytes(part: ByteRange) -> bytes:
    with open(part.path, "rb") as handle:
        handle.seek(part.start)
        return handle.read(part.end - part.start)
