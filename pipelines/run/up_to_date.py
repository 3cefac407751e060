"""Skips a run whose inputs did not change since the last successful run, like make.

TFX's cache would reuse every step anyway, but getting there costs the imports of the
whole stack and a pass over ML Metadata (~30 s); this check costs a hash. The
fingerprint covers everything a step reads: the effective config (with --data/--steps
overrides), the data, the curated schema, the lock file, the pipeline's own code (and a
custom preprocessing_fn's module), the trainers, the Beam arguments and the versions in
the serving dir (the model gate compares against the champion there). `--force` runs the
pipeline regardless (every unchanged step is then served from TFX's cache).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipelines.definition.home_layout import PROJECT_ROOT, Paths
from sluice_config import sources
from sluice_config.config import PipelineConfig
from sluice_config.packages import code_packages

STATE_FILE = "last_run.json"


def fingerprint(config: PipelineConfig, paths: Paths, trainers, beam_args,
                data_sha256: str | None = None) -> str:
    """data_sha256: the data's digest when already known (the pre-flight's, at the end of
    a run: the bytes the run used, without reading the file once more)."""
    from serving.model_format import push_target

    digest = hashlib.sha256()
    settings = {"config": config.to_dict(), "trainers": list(trainers), "beam_args": list(beam_args),
                "serving": [push_target.versions(paths.serving_dir, config.model_name),
                            push_target.rolled_back(paths.serving_dir, config.model_name)]}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    files = [config.data, config.schema, PROJECT_ROOT / "requirements.lock"]
    files += sorted(p for d in code_packages(PROJECT_ROOT) for p in (PROJECT_ROOT / d).rglob("*.py"))
    if config.source:
        sources.on_import_path(config.source.parent)
    modules = [config.preprocessing_fn.rpartition(".")[0], *(c.module_name for c in config.candidates)]
    files += sorted({Path(p) for m in modules for p in sources.module_sources(m)})
    for path in files:
        digest.update(str(path).encode())
        if path == config.data and data_sha256:
            digest.update(data_sha256.encode())
        else:
            digest.update(sources.file_sha256(path).encode() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def last_run(paths: Paths) -> dict:
    state = paths.home / STATE_FILE
    return json.loads(state.read_text()) if state.exists() else {}


def remember(paths: Paths, fingerprint_: str, mlflow_run_id: str, decision: str) -> None:
    state = {"fingerprint": fingerprint_, "mlflow_run_id": mlflow_run_id, "decision": decision}
    (paths.home / STATE_FILE).write_text(json.dumps(state, indent=2))
