"""The data gate: stops the run when ExampleValidator found anomalies.

ExampleValidator only writes its findings; this component turns them into a hard stop
before Transform, with a list a person can act on (feature, anomaly, details).
"""

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies

from components.anomalies import DataAnomaliesError, read_anomalies


@component
def check_anomalies(anomalies: InputArtifact[ExampleAnomalies], report: OutputArtifact[ExampleAnomalies]):
    """Fails the run (and so everything downstream) if any anomaly was found. The report
    (an ExampleAnomalies artifact, a type every orchestrator knows) records the count."""
    found = read_anomalies(anomalies.uri)
    report.set_int_custom_property("anomaly_count", len(found))
    if found:
        raise DataAnomaliesError(found)
