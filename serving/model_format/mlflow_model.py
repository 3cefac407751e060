"""An MLflow pyfunc flavour for pushed sluice models: raw feature rows in, class
probabilities (p_<class> columns) or the predicted value (a value column) out, the transform applied inside. Works with mlflow.pyfunc.load_model
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
        answers = self.model.predict(columns)
        layout = self.model.layout
        names = ["value"] if layout.regression else [f"p_{c}" for c in layout.classes]
        return pd.DataFrame(answers, columns=names)


def log_servable(model_dir: Path):
    """Logs model_dir (a trainer's Format-Serving folder) under the active run, with
    the packages its framework's flavor needs to load it."""
    from serving.model_format.flavors import flavor
    from serving.model_format.layout import FeatureLayout

    needs = flavor(FeatureLayout.load(Path(model_dir)).framework).PIP_REQUIREMENTS
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=SluiceModel(),
        artifacts={"model_dir": str(model_dir)},
        code_paths=[str(SERVING_PACKAGE)],
        pip_requirements=["tensorflow", "tensorflow-transform", *needs, "pandas"],
    )
