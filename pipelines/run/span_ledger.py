"""What the home knows of each span: trained on (with its digest), stopped at the data
gate (with the reason), or accepted by a person (`sluice spans accept N --reason`).

A span stopped at the data gate would otherwise stay in every later window (a window
holds the newest K spans), so one bad delivery blocked every later day: it is left out
until it is re-delivered (a new {VERSION}, or new contents) or accepted, and the step
log says so. A span a run trained on that then changed in place is refused at the next
run, naming both digests: the record of what produced a model must stay true.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from components.executors.preflight import DataError

LEDGER_FILE = "spans_ledger.json"  # in the home
TRAINED, STOPPED, ACCEPTED = "trained", "stopped at the data gate", "accepted"


def read(home: Path) -> dict[str, dict]:
    """span number (as text) -> {name, version, sha256, state, reason, by, at}."""
    path = home / LEDGER_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _write(home: Path, ledger: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    partial = home / (LEDGER_FILE + ".partial")
    partial.write_text(json.dumps(ledger, indent=2, sort_keys=True))
    os.replace(partial, home / LEDGER_FILE)


def _entry(record: dict, state: str, reason: str = "", by: str = "") -> dict:
    return {"name": record["name"], "version": record["version"], "sha256": record["sha256"],
            "state": state, "reason": reason, "by": by, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def record_trained(home: Path, records: list[dict]) -> None:
    """The spans a run trained on (span_window's records: span, version, sha256, name)."""
    ledger = read(home)
    for record in records:
        ledger[str(record["span"])] = _entry(record, TRAINED)
    _write(home, ledger)


def record_stopped(home: Path, record: dict, reason: str) -> None:
    """The newest span of a run that stopped at the data gate (not one a person
    accepted with these contents)."""
    ledger = read(home)
    known = ledger.get(str(record["span"]), {})
    if known.get("state") == ACCEPTED and known.get("sha256") == record["sha256"]:
        return
    ledger[str(record["span"])] = _entry(record, STOPPED, reason.splitlines()[0].rstrip(":")[:300])
    _write(home, ledger)


def accept(home: Path, record: dict, reason: str, by: str) -> dict:
    """A person takes the span as it is now: into windows again, its digest recorded."""
    ledger = read(home)
    entry = ledger[str(record["span"])] = _entry(record, ACCEPTED, reason, by)
    _write(home, ledger)
    return entry


def _same_delivery(entry: dict, version, sha256: str) -> bool:
    return entry.get("version") == version and entry.get("sha256") == sha256


def any_stopped(home: Path) -> bool:
    """Is any span held back? (Else a window need not digest its spans to find out.)"""
    return any(e["state"] == STOPPED for e in read(home).values())


def left_out(home: Path, found: list, digest_of) -> tuple[list, list[str]]:
    """found: spans (sluice_config.spans.Span), digest_of(span) -> sha256. -> (the spans
    a window may hold, one note per span left out: stopped at the data gate and not
    re-delivered or accepted since)."""
    ledger = read(home)
    kept, notes = [], []
    for span in found:
        entry = ledger.get(str(span.number))
        if entry and entry["state"] == STOPPED and _same_delivery(entry, span.version, digest_of(span)):
            notes.append(f"window leaves out {span.name}: it stopped at the data gate on "
                         f"{entry['at']} ({entry['reason']}); deliver it again or take it as it "
                         f"is with `sluice spans accept {span.number} --reason \"...\"`")
            continue
        kept.append(span)
    return kept, notes


def check_unchanged(home: Path, records: list[dict]) -> None:
    """Refuses a window holding a span that a run trained on and that changed in place
    since (the same span and version, other contents): exit 2, both digests named."""
    ledger = read(home)
    for record in records:
        entry = ledger.get(str(record["span"]))
        if (entry and entry["state"] in (TRAINED, ACCEPTED) and entry["version"] == record["version"]
                and entry["sha256"] != record["sha256"]):
            raise DataError(
                f"{record['name']} changed in place since a run {'trained on' if entry['state'] == TRAINED else 'accepted'} "
                f"it on {entry['at']} (sha256 {entry['sha256'][:16]}… then, {record['sha256'][:16]}… "
                f"now; files: {', '.join(record['files'])}): the record of what produced a model "
                "must stay true. Deliver the change as a new version ({VERSION} in the pattern), "
                f"put the old file back, or take it as it is now with `sluice spans accept "
                f"{record['span']} --reason \"...\"`.")
