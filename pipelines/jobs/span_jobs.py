"""`sluice spans`: the spans of the config's data pattern, the scheduler's "is there a
new span?" check, and accepting a span as it is now. Imports no TensorFlow: a scheduled
DAG asks it first, every time."""
from __future__ import annotations

from pipelines.definition.home_layout import Paths
from sluice_config import spans
from sluice_config.errors import ConfigError


def found_spans(data) -> list:
    """The spans the pattern matches, oldest first; a single file is refused."""
    if not spans.is_pattern(data):
        raise ConfigError(f"data: {data} is one file, not a pattern of spans "
                          "({SPAN}, {YYYY}-{MM}-{DD}, {VERSION}); see docs/spans.md.")
    return spans.find(data)


def new_span(paths: Paths, data) -> tuple[object, bool]:
    """-> (the newest span, whether no run judged it, or this version of it, yet)."""
    from pipelines.run import span_window

    newest = spans.select(found_spans(data), None, 1, str(data))[-1]
    return newest, span_window.is_new(paths.home, newest)


def accept(paths: Paths, data, number: int | None, reason: str | None, who: str) -> str:
    """A span that stopped at the data gate (or changed in place) is taken as it is now,
    recorded with who and why; -> the line to print."""
    from pipelines.run import span_ledger, span_window

    if number is None or not reason:
        raise ConfigError("sluice spans accept N --reason \"...\": name the span and say why.")
    found = found_spans(data)
    span = next((s for s in found if s.number == number), None)
    if span is None:
        raise ConfigError(f"no span {number}; spans found: "
                          f"{', '.join(str(s.number) for s in found[-10:])}.")
    entry = span_ledger.accept(paths.home, span_window.record_of(paths.home, span), reason, who)
    return (f"{span.name} accepted as it is (sha256 {entry['sha256'][:16]}…): later windows hold it "
            "again (the data gate still measures it: where it drifts as the newest span, run "
            "with --accept-drift)")
