"""Process-wide speed-ups for third-party code on sluice's path. Each one keeps the
library's behaviour and says what it cost without it (15,002-row taxi run, 2 cores).

install() runs before the pipeline imports TFX's orchestration (pipelines.runners.local).
"""
from __future__ import annotations

import importlib.util
import sys


def install() -> None:
    defer_package_init("tfx.components")
    memoize_beam_dofn_specs()
    skip_tfx_packaging_for_direct_runner()


def defer_package_init(package: str) -> None:
    """Registers a package without running its __init__ until one of its own attributes
    is read; `import package.sub` still works (it only needs the package's path).

    tfx/components/__init__.py imports all 16 components. TFX's orchestration imports one
    constant from tfx.components.evaluator, and that drags in BulkInferrer, Beam's
    RunInference and through it torch: ~5 s and ~300 MB in every pipeline process, also
    in Keras-only runs. `tfx.components.Evaluator` and the like still resolve: the first
    read runs the real __init__.
    """
    if package in sys.modules:
        return
    spec = importlib.util.find_spec(package)
    module = importlib.util.module_from_spec(spec)

    def run_init_then_get(name: str):
        del module.__getattr__
        spec.loader.exec_module(module)
        return getattr(module, name)

    module.__getattr__ = run_init_then_get
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, module)


def memoize_beam_dofn_specs() -> None:
    """Beam asks for a DoFn's state and timer specs (userstate.get_dofn_specs) each time
    it builds, translates or validates a step: ~6,000 times per sluice run, each one
    wrapping every method of the DoFn and computing its signature (~180,000
    inspect.signature calls, ~7 s). The specs are declared in method defaults, fixed once
    a DoFn exists, so one answer per DoFn instance is kept (with the instance, so its id
    is never reused while cached)."""
    from apache_beam.transforms import userstate

    if getattr(userstate.get_dofn_specs, "memoized", False):
        return
    compute = userstate.get_dofn_specs
    answers: dict[int, tuple] = {}

    def get_dofn_specs(dofn):
        cached = answers.get(id(dofn))
        if cached is None or cached[0] is not dofn:
            cached = answers[id(dofn)] = (dofn, compute(dofn))
        states, timers = cached[1]
        return set(states), set(timers)  # callers get their own sets, as before

    get_dofn_specs.memoized = True
    userstate.get_dofn_specs = get_dofn_specs


SLUICE_ENVIRONMENTS = ("EXTERNAL", "LOOPBACK")  # workers run in sluice's own environment


def skip_tfx_packaging_for_direct_runner() -> None:
    """Before every Beam step TFX copies its own install dir and builds an sdist of it for
    remote Beam workers, unless a dependency flag is given: 3 times per run, ~2 s each,
    and each leaves a ~50 MB copy of TFX in the temp dir. Beam's DirectRunner runs its
    workers on this machine, where tfx is installed, so for it (and the other local
    runners: the FnApiRunner sluice names) the step is skipped. So it is for workers
    started from sluice's own environment (EXTERNAL, as scripts/beam_cluster.sh starts
    them, and LOOPBACK): tfx is installed there, and a worker that pip-installs TFX's
    package at start is tensorflow/tfx#3435 (the harness hangs). Any other runner and
    environment (a Docker image, Dataflow) still gets the package."""
    from tfx.utils import dependency_utils

    if getattr(dependency_utils.make_beam_dependency_flags, "direct_runner_skips", False):
        return
    package_for_workers = dependency_utils.make_beam_dependency_flags

    def make_beam_dependency_flags(beam_pipeline_args):
        from apache_beam.options.pipeline_options import (
            PipelineOptions,
            PortableOptions,
            StandardOptions,
        )

        options = PipelineOptions(flags=list(beam_pipeline_args))
        runner = options.view_as(StandardOptions).runner
        if runner is None or runner in StandardOptions.LOCAL_RUNNERS or "direct" in str(runner).lower():
            return list(beam_pipeline_args)
        if str(options.view_as(PortableOptions).environment_type).upper() in SLUICE_ENVIRONMENTS:
            return list(beam_pipeline_args)
        return package_for_workers(beam_pipeline_args)

    make_beam_dependency_flags.direct_runner_skips = True
    dependency_utils.make_beam_dependency_flags = make_beam_dependency_flags
