"""Runs the vanilla TFX Chicago-taxi native-Keras example from the tfx wheel, in one
of two configurations. Called by pipeline_vs_tfx.py in its own process.

usage: vanilla_taxi.py {shipped|local} WORKDIR [DATA_ROOT]
"""
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the example fails without Keras 2

from pathlib import Path  # noqa: E402

from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as taxi  # noqa: E402


def main(mode: str, workdir: str, data_root: str | None = None) -> None:
    work = Path(workdir)
    example_dir = Path(taxi.__file__).parent
    pipeline = taxi._create_pipeline(
        pipeline_name="vanilla_taxi",
        pipeline_root=str(work / "pipeline_root"),
        data_root=data_root or str(example_dir / "data" / "simple"),
        module_file=str(example_dir / "taxi_utils_native_keras.py"),
        serving_model_dir=str(work / "serving"),
        metadata_path=str(work / "metadata.db"),
        beam_pipeline_args=(taxi._beam_pipeline_args if mode == "shipped" else
                            ["--direct_running_mode=in_memory", "--direct_num_workers=1"]),
    )
    if mode == "shipped":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
        BeamDagRunner().run(pipeline)
    else:
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner
        LocalDagRunner().run(pipeline)


if __name__ == "__main__":
    main(*sys.argv[1:4])
