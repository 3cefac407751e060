"""Every Beam pipeline sluice starts names its runner (pipelines.run.beam_args): what
the tests ran is what users run, with or without a network."""
import pytest

from pipelines.run.beam_args import local_beam_args

pytestmark = pytest.mark.component


def test_the_named_runner_runs_without_trying_prism(caplog):
    """A real Beam pipeline with sluice's arguments runs on the FnApiRunner, with no
    attempt at Prism (Beam logs "Running pipeline with PrismRunner" when it tries)."""
    import logging

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    caplog.set_level(logging.INFO)
    with beam.Pipeline(options=PipelineOptions(list(local_beam_args(3)))) as pipeline:
        assert type(pipeline.runner).__name__ == "FnApiRunner"
        assert_that(pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 2), equal_to([2, 4, 6]))
    assert not [r for r in caplog.records if "Prism" in r.getMessage()]
