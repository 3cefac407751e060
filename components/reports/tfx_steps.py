"""What sluice reports of TFX's stock steps (StatisticsGen, ExampleValidator,
ImportSchemaGen), reading their artifacts through components.artifacts.tfx_layout."""
from __future__ import annotations

from types import SimpleNamespace

from components.artifacts import tfx_layout
from components.artifacts.kept import Kept
from components.gates.anomalies import read_anomalies

ANOMALIES_REPORT = "anomalies.json"  # ExampleValidator's findings, as the MLflow record keeps them


def split_rows(statistics_uri: str) -> dict[str, int]:
    """split -> number of examples, from StatisticsGen's statistics."""
    import tensorflow_data_validation as tfdv

    return {split: int(tfdv.load_stats_binary(str(path)).datasets[0].num_examples)
            for split, path in tfx_layout.split_files(statistics_uri, tfx_layout.STATISTICS_FILE).items()}


def _statistics_figures(step) -> dict:
    statistics = step.output("statistics")
    return {f"rows_{k}": v for k, v in split_rows(statistics.uri).items()} if statistics else {}


def _statistics_kept(step, figures) -> Kept:
    """TFDV's own statistics view of each split, as self-contained HTML."""
    if step.state != "COMPLETE":
        return Kept()
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.utils.display_util import get_statistics_html

    files = tfx_layout.split_files(step.output("statistics").uri, tfx_layout.STATISTICS_FILE)
    return Kept(documents={
        f"statistics_{tfx_layout.SPLIT_PREFIX}{split}.html":
            get_statistics_html(tfdv.load_stats_binary(str(path)))
        for split, path in files.items()})


STATISTICS_GEN = SimpleNamespace(
    figures=_statistics_figures,
    summary=lambda f: ", ".join(f"{k.removeprefix('rows_')} {v:,} rows" for k, v in f.items()),
    kept=_statistics_kept)

EXAMPLE_VALIDATOR = SimpleNamespace(
    figures=lambda step: {},
    summary=lambda figures: "",
    kept=lambda step, figures: Kept(documents={ANOMALIES_REPORT: read_anomalies(step.output("anomalies").uri)}
                           if step.output("anomalies") else {}))

IMPORT_SCHEMA_GEN = SimpleNamespace(
    figures=lambda step: {},
    summary=lambda figures: "",
    kept=lambda step, figures: Kept(files=[tfx_layout.schema_file(step.output("schema").uri)]
                           if step.output("schema") else []))
