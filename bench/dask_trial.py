"""Beam's DaskRunner on a real local dask.distributed cluster (issue 15): what runs and
what does not. dask is not in the lock; install it beside the venv first:

  uv pip install --target /tmp/dasklib --python .venv/bin/python "dask[distributed]"
  .venv/bin/python bench/dask_trial.py [/tmp/dasklib]

Found with Beam 2.74 and dask/distributed 2026.8 (2026-11-30): a pipeline that starts
from beam.Create runs; one that reads a file does not. ReadFromText (and TFXIO, and so
every TFX data step) expands to Impulse -> ParDo(EmitSource) -> ParDo(SDF reader); the
DaskRunner translates only Create, ParDo, GroupByKey and Flatten, so the first ParDo gets
no input bag and fails in transform_evaluator.py ParDo.apply: "'NoneType' object has no
attribute 'map'" - the error TFDV showed.
"""
import sys
import tempfile
from pathlib import Path

sys.path.append(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dasklib")  # after the venv's packages
TAXI = Path(__file__).resolve().parent.parent / "data" / "taxi" / "data.csv"


def run(options, build) -> str:
    import apache_beam as beam

    try:
        with beam.Pipeline(options=options) as pipeline:
            build(pipeline)
        return "runs"
    except Exception as err:
        return f"fails: {type(err).__name__}: {err}"


if __name__ == "__main__":
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dask import transform_evaluator
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    client = Client(cluster)
    options = PipelineOptions(["--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
                               f"--dask_client_address={cluster.scheduler_address}"])
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder, "taxi.csv")
        sample.write_text("".join(TAXI.read_text().splitlines(keepends=True)[:2001]))
        print("Create | Map | CombineGlobally:",
              run(options, lambda p: p | beam.Create(range(100)) | beam.Map(lambda x: 2 * x)
                  | beam.CombineGlobally(sum)))
        print("ReadFromText | Count:",
              run(options, lambda p: p | beam.io.ReadFromText(str(sample)) | beam.combiners.Count.Globally()))
        plan = beam.Pipeline()
        _ = plan | beam.io.ReadFromText(str(sample))

        class Primitives(beam.pipeline.PipelineVisitor):
            def visit_transform(self, node):
                known = type(node.transform) in transform_evaluator.TRANSLATIONS
                print(f"  {node.full_label}: {type(node.transform).__name__}"
                      f" ({'translated' if known else 'NOT translated by the DaskRunner'})")

        print("ReadFromText's primitives:")
        plan.visit(Primitives())
    client.close()
    cluster.close()
