"""The push target: a TF-Serving-style directory, <serving_dir>/<model_name>/<version>/.

A version is copied under a temporary name, its marker file written last, then renamed
into place, so a reader (a model server polling the folder) never sees half a model.
The same trained model is never pushed twice, nor pushed again after a rollback took it
out of service. Pushes and rollbacks of one model hold `push_lock`, so two processes
never decide against a serving dir the other is changing.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path

PUSH_MARKER = "PUSHED.json"
ROLLED_BACK = ".rolled_back"  # versions taken out of service by a rollback, kept for the record


def versions(serving_dir: str | Path, model_name: str) -> list[int]:
    """Complete versions, oldest first (temporary folders are not versions)."""
    root = Path(serving_dir) / model_name
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / PUSH_MARKER).exists())


def current_version(serving_dir: str | Path, model_name: str) -> Path | None:
    """The version served now: the newest, as TF Serving's default policy does."""
    found = versions(serving_dir, model_name)
    return Path(serving_dir) / model_name / str(found[-1]) if found else None


def push_record(version_dir: Path) -> dict:
    return json.loads((version_dir / PUSH_MARKER).read_text())


LOCK_FILE = ".push.lock"


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive flock on path: the kernel drops it when its holder dies, so a
    killed process never leaves it behind."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def push_lock(serving_dir: str | Path, model_name: str):
    """Holds the model's push lock (file_lock on <serving_dir>/<model>/.push.lock)."""
    root = Path(serving_dir) / model_name
    root.mkdir(parents=True, exist_ok=True)
    return file_lock(root / LOCK_FILE)


def version_number(version_dir: Path | None) -> int:
    """0 for no version."""
    return int(version_dir.name) if version_dir else 0


def find_pushed(serving_dir: str | Path, model_name: str, model_uri: str) -> int | None:
    """The version already holding this trained model, if any."""
    for version in versions(serving_dir, model_name):
        record = push_record(Path(serving_dir) / model_name / str(version))
        if record.get("model_uri") == model_uri:
            return version
    return None


def find_rolled_back(serving_dir: str | Path, model_name: str, model_uri: str) -> int | None:
    """The rolled-back version that held this trained model, if any: a rollback is a
    decision a rerun must not undo."""
    folder = Path(serving_dir) / model_name / ROLLED_BACK
    for version in rolled_back(serving_dir, model_name):
        marker = folder / str(version) / PUSH_MARKER
        if marker.exists() and json.loads(marker.read_text()).get("model_uri") == model_uri:
            return version
    return None


def state_digest(serving_dir: str | Path, model_name: str) -> str:
    """Which versions serve and which were rolled back: what a push decision depends on
    besides its candidates, so the pusher's cache key sees it."""
    state = [versions(serving_dir, model_name), rolled_back(serving_dir, model_name)]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def push(model_dir: str | Path, serving_dir: str | Path, model_name: str, record: dict) -> int:
    """Copies model_dir to the next version atomically; returns the version number."""
    root = Path(serving_dir) / model_name
    root.mkdir(parents=True, exist_ok=True)
    version = max([0, *versions(serving_dir, model_name), *rolled_back(serving_dir, model_name)]) + 1
    staging = root / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    shutil.copytree(model_dir, staging)
    (staging / PUSH_MARKER).write_text(json.dumps({**record, "version": version}, indent=2))
    staging.rename(root / str(version))
    return version


def rolled_back(serving_dir: str | Path, model_name: str) -> list[int]:
    folder = Path(serving_dir) / model_name / ROLLED_BACK
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []


HISTORY_FILE = "rollbacks.jsonl"  # in <serving_dir>/<model>/: one line per rollback, who and why


def rollback_target(serving_dir: str | Path, model_name: str, to: int | None = None
                    ) -> tuple[int, int]:
    """-> (the version serving now, the version to serve): `to` may be any version ever
    pushed that is still on disk, in service or rolled back, older or newer (default:
    the one before the newest in service). ValueError says what is on disk."""
    found, aside = versions(serving_dir, model_name), rolled_back(serving_dir, model_name)
    if not found:
        raise ValueError(f"no versions of {model_name} in {serving_dir}")
    if to is None:
        if len(found) < 2:
            raise ValueError(f"{model_name} has only version {found[0]} in service; nothing "
                             "to roll back to" + (f" (rolled back: {_listed(aside)}; name one "
                                                  "with --to)" if aside else ""))
        to = found[-2]
    if to not in found and to not in aside:
        raise ValueError(f"{model_name} has no version {to}; in service: {_listed(found)}"
                         + (f"; rolled back: {_listed(aside)}" if aside else ""))
    if to == found[-1]:
        raise ValueError(f"version {to} of {model_name} is already the one served")
    return found[-1], to


def _listed(numbers) -> str:
    return ", ".join(map(str, numbers))


def roll_back(serving_dir: str | Path, model_name: str, to: int | None = None,
              who: str = "", why: str = "") -> tuple[int, int]:
    """Makes version `to` the newest in service, so a server following the newest-version
    policy swaps to it: a rolled-back `to` comes back from .rolled_back/, the versions
    newer than it move there (never deleted, their numbers never reused; a later
    rollback brings them back). Recorded in rollbacks.jsonl. -> (from, to)."""
    served, to = rollback_target(serving_dir, model_name, to)
    root = Path(serving_dir) / model_name
    (root / ROLLED_BACK).mkdir(exist_ok=True)
    restored = not (root / str(to)).exists()
    if restored:
        (root / ROLLED_BACK / str(to)).rename(root / str(to))
    # Oldest first, the newest last: a server polling meanwhile keeps seeing the newest
    # until the final rename, and never loads a version in between.
    newer = [v for v in versions(serving_dir, model_name) if v > to]
    for version in newer:
        (root / str(version)).rename(root / ROLLED_BACK / str(version))
    entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from": served, "to": to,
             "restored": restored, "moved_aside": newer, "by": who, "reason": why}
    with open(root / HISTORY_FILE, "a") as out:
        out.write(json.dumps(entry) + "\n")
    return served, to


def rollback_history(serving_dir: str | Path, model_name: str) -> list[dict]:
    """Every rollback of the model, oldest first."""
    path = Path(serving_dir) / model_name / HISTORY_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
