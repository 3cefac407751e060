"""Keras 2 is guaranteed by the trainer and the model loader themselves, not only by
the CLI: imported first in a bare interpreter (as a Kubeflow executor or a notebook
would), each leaves tf.keras on Keras 2; a process that chose Keras 3 is refused."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.component

PROBE = "import {module}, tensorflow as tf; print(tf.keras.__name__)"


@pytest.mark.parametrize("module", ["trainers.frameworks.keras_adapter", "serving.model_format.model"])
def test_first_import_selects_keras_2(module):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("tf_keras"), out.stdout  # Keras 2, not keras 3


def test_keras_3_is_refused_loudly():
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = "from serving.model_format import keras2; keras2.require()"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "need Keras 2: set TF_USE_LEGACY_KERAS=1" in out.stderr
