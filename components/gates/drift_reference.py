"""Which data the drift gate compares new data with: a reference that cannot creep.

Measured against the champion's data alone, drift creeps: each push moves the reference
to the newest champion's data, so a run of small steps, each under the bound, adds up
to any change at all. The default reference is therefore pinned: the data of the first
version ever pushed, until the user re-pins it to another version's data with `sluice
drift pin --to VERSION` (recorded with who, why and when in
<serving_dir>/<model>/drift_reference.json). `drift.reference: champion` measures
against the serving version's data as before; `both` against each.

The references are resolved when the pipeline is built and passed to the data gate as
a parameter, so TFX's cache key sees a re-pin.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from serving.model_format import push_target

PIN_FILE = "drift_reference.json"


def version_dir(serving_dir: str | Path, model_name: str, version: int) -> Path | None:
    """A pushed version's folder, in service or rolled back."""
    root = Path(serving_dir) / model_name
    for folder in (root / str(version), root / push_target.ROLLED_BACK / str(version)):
        if (folder / push_target.PUSH_MARKER).exists():
            return folder
    return None


def read_pin(serving_dir: str | Path, model_name: str) -> dict | None:
    path = Path(serving_dir) / model_name / PIN_FILE
    return json.loads(path.read_text()) if path.exists() else None


def pin(serving_dir: str | Path, model_name: str, version: int | None, who: str, why: str) -> dict:
    """Pins the reference to a version's data (default: the version serving now)."""
    if version is None:
        version = push_target.version_number(push_target.current_version(serving_dir, model_name))
    folder = version_dir(serving_dir, model_name, version) if version else None
    if folder is None:
        on_disk = sorted([*push_target.versions(serving_dir, model_name),
                          *push_target.rolled_back(serving_dir, model_name)])
        raise ValueError(f"{model_name} has no version {version or '(none pushed yet)'} to pin; "
                         f"versions on disk: {', '.join(map(str, on_disk)) or 'none'}")
    record = push_target.push_record(folder)
    statistics = record.get("statistics_uri")
    if not statistics:
        raise ValueError(f"version {version} of {model_name} has no recorded statistics")
    entry = {"version": version, "statistics_uri": statistics,
             "examples_uri": record.get("examples_uri", ""), "by": who, "reason": why,
             "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (Path(serving_dir) / model_name / PIN_FILE).write_text(json.dumps(entry, indent=2))
    return entry


def _pinned(serving_dir, model_name) -> dict | None:
    found = read_pin(serving_dir, model_name)
    if found:
        return {"name": f"pinned: version {found['version']}'s data", "version": found["version"],
                "statistics_uri": found["statistics_uri"],
                "examples_uri": found.get("examples_uri", "")}
    pushed = sorted([*push_target.versions(serving_dir, model_name),
                     *push_target.rolled_back(serving_dir, model_name)])
    for version in pushed:  # the first champion's data, until re-pinned
        record = push_target.push_record(version_dir(serving_dir, model_name, version))
        if record.get("statistics_uri"):
            return {"name": f"pinned: the first champion's data (version {version})",
                    "version": version, "statistics_uri": record["statistics_uri"],
                    "examples_uri": record.get("examples_uri", "")}
    return None


def _champion(serving_dir, model_name) -> dict | None:
    current = push_target.current_version(serving_dir, model_name)
    record = push_target.push_record(current) if current else {}
    if not record.get("statistics_uri"):
        return None
    version = push_target.version_number(current)
    return {"name": f"the champion's data (version {version})", "version": version,
            "statistics_uri": record["statistics_uri"], "examples_uri": record.get("examples_uri", "")}


def references(serving_dir: str | Path, model_name: str, mode: str) -> list[dict]:
    """[{name, version, statistics_uri, examples_uri}] the gate measures against (none before the
    first push); `both` lists the champion's only where it differs from the pin."""
    found = []
    if mode in ("pinned", "both"):
        found.append(_pinned(serving_dir, model_name))
    if mode in ("champion", "both"):
        champion = _champion(serving_dir, model_name)
        if champion and all(champion["statistics_uri"] != f["statistics_uri"] for f in found if f):
            found.append(champion)
    return [f for f in found if f]


def reference_eval(serving_dir: str | Path, model_name: str) -> dict | None:
    """The pinned reference's eval rows, where its version recorded them: the model
    gate's fixed second set of rows (components.gates.reference_eval). A parameter of the
    gate, so a re-pin re-judges."""
    pinned = _pinned(serving_dir, model_name)
    if not pinned or not pinned.get("examples_uri"):
        return None
    return {"name": f"version {pinned['version']}'s eval rows (the pinned drift reference)",
            "version": pinned["version"], "examples_uri": pinned["examples_uri"]}
