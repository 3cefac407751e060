"""One step's execution as the record describes it, wherever it was seen: by the
executor that ran it (components.recording.executor) or, for a step TFX's cache reused,
in ML Metadata afterwards (pipelines.lineage.mlmd). The step reporters
(components.reports.step_reports) read only this."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Step:
    """One component execution: its outputs are ML Metadata artifact protos (uri,
    custom_properties), whoever saw them."""

    execution_id: int
    node_id: str
    state: str  # COMPLETE, FAILED, CACHED, ...
    start_ms: int
    end_ms: int
    properties: dict
    inputs: dict[str, list] = field(default_factory=dict)  # key -> [mlmd Artifact]
    outputs: dict[str, list] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # what the step's run adds (its Beam jobs)

    def output(self, key: str):
        return (self.outputs.get(key) or [None])[0]


def from_executor(node_id: str, state: str, start_ms: int, end_ms: int, exec_properties: dict,
                  input_dict: dict, output_dict: dict) -> Step:
    """The Step an executor saw: TFX Artifacts become their ML Metadata protos, which
    hold what the executor set on them (uri, custom properties)."""
    def protos(artifacts: dict) -> dict[str, list]:
        return {key: [a.mlmd_artifact for a in values] for key, values in artifacts.items() if values}

    properties = {k: v for k, v in exec_properties.items() if not k.startswith("__") and v is not None}
    return Step(execution_id=0, node_id=node_id, state=state, start_ms=start_ms, end_ms=end_ms,
                properties=properties, inputs=protos(input_dict), outputs=protos(output_dict))
