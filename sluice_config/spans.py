"""Spans: data that arrives again and again, named as TFX's ExampleGen names it.

`data:` may be a pattern with TFX's placeholders (docs/guide/examplegen.md): `{SPAN}`
(a number), or `{YYYY}`, `{MM}` and `{DD}` together (a date; its span number is the
day since 1970-01-01, as in TFX), and `{VERSION}` for a span delivered again. Every
file that matches is part of the span its placeholders name; a span re-delivered under
a higher version replaces the older version. A run takes the newest span, a window of
the newest `training.window` spans up to it (TFX's RollingRange), or the spans a
`--span` range names.

This module only finds and selects spans (a glob, no file is read); the pre-flight
checks them (pipelines/run/span_window.py) and the data gate compares the newest with
the previous one (components/data_gate.py).
"""
from __future__ import annotations

import datetime
import glob
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sluice_config.errors import ConfigError

PLACEHOLDER = re.compile(r"\{(SPAN|VERSION|YYYY|MM|DD)\}")
_DIGITS = {"SPAN": r"\d+", "VERSION": r"\d+", "YYYY": r"\d{4}", "MM": r"\d{2}", "DD": r"\d{2}"}
EPOCH = datetime.date(1970, 1, 1)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Span:
    number: int
    version: int | None
    files: tuple[Path, ...]
    dated: bool = False  # the number counts days: name it by its date

    @property
    def name(self) -> str:
        day = f" ({EPOCH + datetime.timedelta(days=self.number)})" if self.dated else ""
        version = f" version {self.version}" if self.version is not None else ""
        return f"span {self.number}{day}{version}"

    def key(self) -> dict:
        """What identifies this delivery, without its contents (those: span_window)."""
        return {"span": self.number, "version": self.version,
                "files": [str(f) for f in self.files]}


def is_pattern(data: Path | str) -> bool:
    return bool(PLACEHOLDER.search(str(data)))


def check_pattern(data: Path | str) -> None:
    """Refuses a pattern TFX would refuse: {SPAN} beside a date, a date without all of
    {YYYY}, {MM} and {DD}, a placeholder twice, {VERSION} without a span."""
    found = PLACEHOLDER.findall(str(data))
    where = f"data: the pattern {str(data)!r}"
    repeated = sorted({p for p in found if found.count(p) > 1})
    if repeated:
        raise ConfigError(f"{where} holds {{{repeated[0]}}} more than once.")
    date = {"YYYY", "MM", "DD"} & set(found)
    if "SPAN" in found and date:
        raise ConfigError(f"{where} holds both {{SPAN}} and a date; use one of them.")
    if date and date != {"YYYY", "MM", "DD"}:
        raise ConfigError(f"{where}: a date span needs {{YYYY}}, {{MM}} and {{DD}} together.")
    if "VERSION" in found and not ("SPAN" in found or date):
        raise ConfigError(f"{where}: {{VERSION}} numbers re-deliveries of a span; add {{SPAN}} "
                          "or {YYYY}-{MM}-{DD}.")


def _regex(pattern: str) -> re.Pattern:
    """The pattern as a regular expression: placeholders capture digits, a glob's * and ?
    match within one path segment."""
    parts, position = [], 0
    for match in PLACEHOLDER.finditer(pattern):
        parts.append(_glob_regex(pattern[position:match.start()]))
        parts.append(f"(?P<{match.group(1)}>{_DIGITS[match.group(1)]})")
        position = match.end()
    parts.append(_glob_regex(pattern[position:]))
    return re.compile("".join(parts))


def _glob_regex(text: str) -> str:
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)


def find(pattern: Path | str) -> list[Span]:
    """Every span the pattern matches, oldest first, each at its newest version."""
    text = str(pattern)
    check_pattern(text)
    regex = _regex(text)
    spans: dict[int, dict[int | None, list[Path]]] = {}
    dated = "{YYYY}" in text
    for path in sorted(glob.glob(PLACEHOLDER.sub("*", text))):
        match = regex.fullmatch(path)
        if not match or not Path(path).is_file():
            continue
        fields = match.groupdict()
        if dated:
            try:
                day = datetime.date(int(fields["YYYY"]), int(fields["MM"]), int(fields["DD"]))
            except ValueError:
                raise ConfigError(f"{path}: not a date in the pattern {text!r} "
                                  f"({fields['YYYY']}-{fields['MM']}-{fields['DD']}).") from None
            number = (day - EPOCH).days
        else:
            number = int(fields["SPAN"])
        version = int(fields["VERSION"]) if fields.get("VERSION") is not None else None
        spans.setdefault(number, {}).setdefault(version, []).append(Path(path))
    found = []
    for number in sorted(spans):
        versions = spans[number]
        newest = max(versions, key=lambda v: -1 if v is None else v)
        found.append(Span(number, newest, tuple(versions[newest]), dated))
    return found


def base_and_pattern(data: Path) -> tuple[Path, str]:
    """The folder above the first segment with a placeholder or a wildcard, and the
    rest: ExampleGen's input_base and split pattern, where TFX's own driver resolves the
    placeholders (the Kubeflow spec, whose span is a runtime parameter)."""
    parts = data.parts
    first = next(i for i, p in enumerate(parts) if PLACEHOLDER.search(p) or set(p) & set("*?["))
    return Path(*parts[:first]), "/".join(parts[first:])


def parse_span(text: str) -> int:
    """A span number, or a date (YYYY-MM-DD) as its span number."""
    if DATE.match(text):
        try:
            return (datetime.date.fromisoformat(text) - EPOCH).days
        except ValueError:
            raise ConfigError(f"--span: {text!r} is not a date.") from None
    if not text.isdigit():
        raise ConfigError(f"--span: expected a span number, a date (YYYY-MM-DD) or a range "
                          f"FIRST..LAST, got {text!r}.")
    return int(text)


def select(spans: list[Span], wanted: str | None, window: int, pattern: str = "") -> list[Span]:
    """The spans a run trains on: the newest `window` spans up to the newest (or up to
    span N: `--span N`), or every span of a range (`--span FIRST..LAST`)."""
    if not spans:
        raise ConfigError(f"data: no file matches the pattern {pattern!r}; deliver a span "
                          "first (e.g. span-1/ for {SPAN}, 2026-12-01/ for a date).")
    available = ", ".join(str(s.number) for s in spans[-10:])
    if wanted and ".." in wanted:
        first, last = (parse_span(p) for p in wanted.split("..", 1))
        chosen = [s for s in spans if first <= s.number <= last]
        if not chosen:
            raise ConfigError(f"--span {wanted}: no span in that range; spans found: {available}.")
        return chosen
    newest = spans[-1].number if not wanted else parse_span(wanted)
    upto = [s for s in spans if s.number <= newest]
    if not upto or upto[-1].number != newest:
        raise ConfigError(f"--span {wanted}: no such span; spans found: {available}.")
    return upto[-window:]


def previous(spans: list[Span], newest: Span) -> Span | None:
    """The span delivered before the newest one, the data gate's second reference."""
    earlier = [s for s in spans if s.number < newest.number]
    return earlier[-1] if earlier else None


def names_line(names: list[str]) -> str:
    """Spans in one short line: each name, or the first and the last of many."""
    return ", ".join(names) if len(names) <= 8 else f"{names[0]} ... {names[-1]} ({len(names)} spans)"


def digest(files_sha256: list[str]) -> str:
    """A span's digest: its one file's sha256, or the digest of its files' digests."""
    if len(files_sha256) == 1:
        return files_sha256[0]
    return hashlib.sha256("\n".join(files_sha256).encode()).hexdigest()
