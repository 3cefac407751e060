"""A Keras candidate as served: its SavedModel's serving signature does everything
(raw features -> transform -> model -> probabilities, or the value). The flavor owns
the folder's layout: the Keras adapter saves through save(), the server loads through
Loaded."""
from __future__ import annotations

from pathlib import Path

from serving.model_format.layout import FeatureLayout

PIP_REQUIREMENTS = []  # TensorFlow and TFT: every sluice model needs them
SIGNATURE = "serving_default"  # TF Serving's default signature name
IMPORTS = ("tensorflow",)  # what loading imports (a server started ahead imports them first)


def save(out_dir: str, layout: FeatureLayout, module, serve) -> None:
    """A SavedModel of module (the weights, the transform graph) with serve as its
    signature, and the layout beside it."""
    import tensorflow as tf

    tf.saved_model.save(module, out_dir, signatures={SIGNATURE: serve})
    layout.save(out_dir)


class Loaded:
    def __init__(self, path: Path, layout: FeatureLayout):
        import tensorflow as tf

        self._saved_model = tf.saved_model.load(str(path))
        self._signature = self._saved_model.signatures[SIGNATURE]
        self._output = layout.output_key
        self.raw_spec = {name: tf.io.VarLenFeature(tf.string if kind == "string" else tf.float32)
                         for name, kind in layout.raw_features.items()}

    def graph(self, raw: dict):
        return self._signature(**raw)[self._output]

    def finish(self, outputs):
        return outputs.numpy()
