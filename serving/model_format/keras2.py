"""Keras 2 wherever a model is built or loaded, whoever the entry point is.

TensorFlow 2.16 chooses Keras 2 (tf-keras) or Keras 3 from TF_USE_LEGACY_KERAS when
`tf.keras` is first resolved; TFT and TFX need Keras 2, and a model built under Keras 3
fails in Transform's graph ("`inputs` not connected to `outputs`"). The CLI sets the
switch, but a trainer run by a Kubeflow executor or a notebook, or the model loader
used by `mlflow.pyfunc`, may be the first to import TensorFlow. Importing this module
first sets the switch; `require()` fails loudly if Keras 3 was chosen anyway.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def require() -> None:
    """Raises if tf.keras resolved to Keras 3 (the switch was set too late or to 0)."""
    import tensorflow as tf

    module = getattr(tf.keras, "__name__", "")  # tf_keras.api._v2.keras under Keras 2
    if not module.startswith("tf_keras"):
        version = getattr(tf.keras, "__version__", "?")
        raise RuntimeError(
            f"tf.keras is Keras {version} ({module}), but sluice's models need Keras 2: set "
            "TF_USE_LEGACY_KERAS=1 before TensorFlow is first imported (it is "
            f"{os.environ.get('TF_USE_LEGACY_KERAS')!r} now).")
