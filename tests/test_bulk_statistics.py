"""The bulk StatisticsGen executor against TFX's own StatisticsGen executor, both real, on
the same ExampleGen output, read in batches of 64 rows (so each file is several
batches): the same statistics for every split and feature."""
import pytest
import tensorflow_data_validation as tfdv
from tfx.components.statistics_gen.executor import Executor as TfxStatisticsExecutor
from tfx.types import artifact_utils, standard_artifacts

from components.executors import bulk_statistics

pytestmark = pytest.mark.component


def statistics(executor, examples_dir, out) -> dict:
    """Runs one StatisticsGen executor -> {split: DatasetFeatureStatistics} (also
    bench/bulk_steps.py)."""
    examples = standard_artifacts.Examples()
    examples.uri = str(examples_dir)
    examples.split_names = artifact_utils.encode_split_names(
        sorted(p.name.removeprefix("Split-") for p in examples_dir.glob("Split-*")))
    stats = standard_artifacts.ExampleStatistics()
    stats.uri = str(out)
    executor().Do({"examples": [examples]}, {"statistics": [stats]}, {"exclude_splits": "[]"})
    return {split: tfdv.load_stats_binary(str(out / f"Split-{split}" / "FeatureStats.pb")).datasets[0]
            for split in artifact_utils.decode_split_names(stats.split_names)}


def test_the_bulk_executor_computes_what_statistics_gen_computes(upstream, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk_statistics, "ROWS_PER_BATCH", 64)
    _, examples_dir, _, _ = upstream
    tfx = statistics(TfxStatisticsExecutor, examples_dir, tmp_path / "tfx")
    ours = statistics(bulk_statistics.Executor, examples_dir, tmp_path / "ours")
    assert sorted(ours) == sorted(tfx) == ["eval", "train"]
    for split in tfx:
        assert ours[split].num_examples == tfx[split].num_examples > 64
        assert ours[split] == tfx[split], split
