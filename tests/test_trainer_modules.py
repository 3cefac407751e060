"""Trainer modules that break the contract while training, run the way TFX's Trainer
runs them (each adapter's run_fn) on the real Transform output of a few hundred
rows: the candidate's failure is recorded with a message naming the module, the
function and what was expected, instead of a model; evaluate then refuses to bless
it, so nothing unvetted can be pushed. And the two example modules train."""
import sys
import textwrap
from types import SimpleNamespace

import pytest

from tests.test_trainers import fn_args

pytestmark = pytest.mark.component

KERAS_HEAD = "import tensorflow as tf\n\n\ndef build_model(features, hparams):\n"
KERAS_INPUTS = ("    inputs = {i.name: tf.keras.Input((), name=i.name, dtype=i.dtype) for i in features.inputs}\n"
                "    x = tf.keras.layers.Concatenate()([tf.keras.layers.Reshape((1,))(tf.cast(inputs[n], "
                "tf.float32)) for n in features.numeric])\n")
TORCH_HEAD = ("import torch\n\n\nclass Net(torch.nn.Module):\n    def __init__(self, features):\n"
              "        super().__init__()\n        self.names = list(features.numeric)\n"
              "        self.linear = torch.nn.Linear(len(self.names), 2)\n\n"
              "    def forward(self, inputs):\n"
              "        x = torch.stack([inputs[n] for n in self.names], dim=1)\n")
TORCH_TAIL = "\n\ndef build_model(features, hparams):\n    return Net(features)\n"

BROKEN = {
    "keras wrong output shape": ("keras", KERAS_HEAD + KERAS_INPUTS +
                                 "    return tf.keras.Model(inputs, tf.keras.layers.Dense(3)(x))\n",
                                 r"build_model \(candidate m\): the model answers shape \(8, 3\) for 8 rows; "
                                 r"expected \(8, 1\): the positive class's probability"),
    "keras NaN loss": ("keras", KERAS_HEAD + KERAS_INPUTS +
                       "    out = tf.keras.layers.Dense(1, activation='sigmoid')(x)\n"
                       "    return tf.keras.Model(inputs, tf.keras.layers.Lambda(lambda y: y * float('nan'))(out))\n",
                       r"build_model \(candidate m\): the loss is nan by step \d+; lower the learning rate"),
    "torch wrong output shape": ("torch", TORCH_HEAD + "        return self.linear(x)\n" + TORCH_TAIL,
                                 r"build_model \(candidate m\): forward returns shape \(8, 2\) for 8 rows; expected \(8, 1\): "
                                 r"the positive class's logit"),
    "torch NaN loss": ("torch", TORCH_HEAD + "        return self.linear(x)[:, :1] * float('nan')\n" + TORCH_TAIL,
                       r"build_model \(candidate m\): the loss is nan by step \d+"),
    "torch op ONNX cannot export": (
        "torch", TORCH_HEAD + "        eig = torch.linalg.eigvals(torch.diag_embed(x[:, :2].detach())).real\n"
                              "        return self.linear(x)[:, :1] + 0.0 * eig[:, :1]\n" + TORCH_TAIL,
        r"build_model \(candidate m\): the model cannot be exported \(TorchScript, ONNX\): UnsupportedOperatorError: Exporting the operator .aten::diag_embed. to ONNX"),
}


def with_module(config, folder, framework: str, module: str, source: str):
    from sluice_config.config import Candidate

    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return config.replace(source=folder / "config.yaml",
                          candidates=(Candidate("m", framework, module),))


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_module_that_breaks_the_contract_in_training_is_recorded_not_raised(upstream, tmp_path, case):
    import re

    from components.evaluate import write_failed
    from trainers import module_contract
    from trainers.frameworks import adapter

    framework, source, message = BROKEN[case]
    module = "broken_" + re.sub(r"\W", "_", case)
    config, _, examples, graph = upstream
    config = with_module(config, tmp_path, framework, module, source)
    args = fn_args(config, examples, graph, tmp_path / "out", "m")
    try:
        adapter(framework).run_fn(SimpleNamespace(**args))
    finally:
        sys.modules.pop(module, None)
    failure = module_contract.read_failure(args["serving_model_dir"])
    assert failure is not None and failure["module"] == module
    assert re.search(f"{module}\\.{message}", failure["error"]), failure["error"]
    blessing = SimpleNamespace(uri=str(tmp_path / "blessing"), properties={})
    (tmp_path / "blessing").mkdir()
    props = {}
    blessing.set_int_custom_property = blessing.set_string_custom_property = props.__setitem__
    write_failed(blessing, "model-uri", failure)
    assert props["blessed"] == 0 and props["training_failed"].startswith("training failed: ")
    assert (tmp_path / "blessing" / "NOT_BLESSED").exists()


@pytest.mark.parametrize("module, framework", [("trainers.examples.wide_deep", "keras"),
                                               ("trainers.examples.tab_resnet", "torch")])
def test_the_example_modules_train_and_serve(upstream, tmp_path, module, framework):
    from serving.model_format.model import ServableModel
    from sluice_config.config import Candidate
    from tests.conftest import TAXI_CSV, raw_rows
    from trainers.data import read_history
    from trainers.frameworks import adapter

    config, _, examples, graph = upstream
    config = config.replace(candidates=(Candidate("example", framework, module, {"blocks": 1, "units": [16]}),))
    args = fn_args(config, examples, graph, tmp_path, "example")
    adapter(framework).run_fn(SimpleNamespace(**args))
    history = read_history(args["model_run_dir"])
    assert history["module"] == module and history["hparams"]["blocks"] == 1
    assert history["loss"][-1] < history["loss"][0]
    model = ServableModel(args["serving_model_dir"])
    assert (model.layout.candidate, model.layout.framework) == ("example", framework)
    assert model.predict(raw_rows(TAXI_CSV, 5, model.feature_names)).shape == (5, 2)


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_warm_start_from_the_champion_of_the_same_candidate_only(upstream, tmp_path, framework):
    """warm_start: champion begins where the serving model ended (its first loss is the
    trained model's, far below a fresh start) when the champion came from the same
    candidate with the same inputs; another candidate's champion is not used, and
    the history says why."""
    import dataclasses

    from trainers.data import read_history
    from trainers.frameworks import adapter

    config, _, examples, graph = upstream
    config = config.replace(candidates=(dataclasses.replace(config.candidate(framework), warm_start="champion"),))

    def train(out, base_model=None, name=framework):
        named = config.replace(candidates=(dataclasses.replace(config.candidates[0], name=name),))
        args = fn_args(named, examples, graph, tmp_path / out, name)
        args["base_model"] = base_model
        adapter(framework).run_fn(SimpleNamespace(**args))
        return args, read_history(args["model_run_dir"])

    champion, scratch = train("champion")
    assert scratch["warm_start"] == "no champion serving yet: trained from scratch"
    tfx_style = str(tmp_path / "champion" / "serving" / "Format-Serving")  # as TFX hands base_model
    _, warm = train("warm", tfx_style)
    assert warm["warm_start"].startswith("warm-started from the champion")
    assert warm["loss"][0] < scratch["loss"][0] - 0.05, (warm["loss"], scratch["loss"])
    _, other = train("other", tfx_style, name="other_net")
    assert other["warm_start"] == f"the champion was trained by candidate {framework!r}, not 'other_net': " \
                                  "trained from scratch"
