"""An MLflow pyfunc flavour for pushed sluice models: raw feature rows in, class
probabilities out, the transform applied inside. Works with mlflow.pyfunc.load_model
and `mlflow models serve`, without the training code."""
from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc

SERVING_PACKAGE = Path(__file__).resolve().parent.parent  # serving/, bundled so `serving.model_format` imports


class SluiceModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from serving.model_format.model import ServableModel

        self.model = ServableModel(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        columns = {c: [None if pd.isna(v) else v for v in model_input[c]] for c in model_input.columns}
        probs = self.model.predict(columns)
        return pd.DataFrame(probs, columns=[f"p_{c}" for c in self.model.layout.classes])


def log_servable(model_dir: Path):
    """Logs model_dir (a trainer's Format-Serving folder) under the active run."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=SluiceModel(),
        artifacts={"model_dir": str(model_dir)},
        code_paths=[str(SERVING_PACKAGE)],
        pip_requirements=["tensorflow", "tensorflow-transform", "torch", "pandas"],
    )
