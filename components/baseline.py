"""The baseline the gates judge against: the model version serving when the pipeline
is built, as a declared input (a TFX Importer node), not a path read on the side.

The model gate scores the candidate against it, and the data gate measures drift
against the statistics of the data that trained it. Because it is an input artifact,
TFX's cache key and ML Metadata see it: a blessing is reused only when candidate, data
and baseline are all unchanged, and lineage names the exact version judged against.
The same version (same path, same trained model) is always the same artifact, so an
unchanged baseline keeps the gates cached. With no model serving yet, the baseline is
a placeholder artifact whose `serving_version` is 0.

The version may change between building the pipeline and pushing (another run pushed,
or a rollback): the pusher re-judges against the version serving at push time.
"""
from __future__ import annotations

from pathlib import Path

from serving.model_format import push_target
from sluice_config import step_ids

NODE_ID = step_ids.BASELINE
NO_BASELINE = "none"


def champion_record(serving_dir: str | Path, model_name: str) -> tuple[int, Path | None, dict]:
    """(version, folder, push record) of the version serving now; (0, None, {}) if none."""
    current = push_target.current_version(serving_dir, model_name)
    if current is None:
        return 0, None, {}
    return push_target.version_number(current), current, push_target.push_record(current)


def baseline_node(serving_dir: str | Path, model_name: str, pipeline_root: str | Path):
    """An Importer of the serving version (or of the 'no baseline' placeholder)."""
    from tfx.dsl.components.common.importer import Importer
    from tfx.types.standard_artifacts import Model

    version, folder, record = champion_record(serving_dir, model_name)
    uri = str(folder) if folder else str(Path(pipeline_root, NODE_ID, NO_BASELINE))
    return Importer(
        source_uri=uri,
        artifact_type=Model,
        custom_properties={
            "serving_version": version,
            "model_uri": record.get("model_uri", NO_BASELINE),
            "statistics_uri": record.get("statistics_uri", NO_BASELINE),
        },
    ).with_id(NODE_ID)


def version_of(baseline) -> int:
    """The serving version a baseline artifact stands for (0: none)."""
    if baseline is None:
        return 0
    return int(baseline.get_int_custom_property("serving_version"))
