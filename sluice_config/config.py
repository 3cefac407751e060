"""The pipeline configuration: one YAML file per dataset, parsed into frozen dataclasses.

The dataset is configuration, not code: a user points sluice at their own CSV by writing
one of these files. Everything is validated when the file is loaded, so a typo fails in
a second with a "did you mean" hint instead of minutes later inside Beam.
Relative paths are resolved against the directory of the config file.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sluice_config import spans
from sluice_config.errors import ConfigError, did_you_mean
from sluice_config.frameworks import FRAMEWORKS
from sluice_config.frameworks import framework as framework_of
from sluice_config.label_rule import parse_rule, rule_columns
from sluice_config.tuning import Tuning
from sluice_config.tuning import parse as parse_tuning

CONFIG_DIR = Path(__file__).resolve().parent.parent / "pipelines" / "configs"  # the bundled configs
TASKS = ("binary", "multiclass", "regression")
# What the gate can bound, per kind of task (components.gates.metrics computes them).
CLASSIFICATION_METRICS = ("auc", "accuracy", "loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
PER_CLASS_METRICS = ("precision", "recall", "f1")  # what gate.per_class can bound, per class
LOWER_IS_BETTER = frozenset({"loss", "rmse", "mae"})
DRIFT_REFERENCES = ("pinned", "champion", "both")  # components.gates.drift_reference resolves them
WARM_STARTS = ("", "champion")
CANDIDATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # it names steps, runs and metrics


class FeatureKind(str, enum.Enum):
    """How a CSV column becomes a model input (trainers.builtin.default_preprocessing), the one list
    of kinds every module reads."""

    NUMERIC = "numeric"  # z-scored float
    CATEGORICAL = "categorical"  # vocabulary ids, the top_k most frequent values
    BUCKETIZED = "bucketized"  # quantile bucket ids, 0..buckets-1
    IDENTITY = "identity"  # the integer is the id, 0..buckets-1

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind = FeatureKind.NUMERIC
    buckets: int = 10  # bucketized: quantile buckets; identity: ids are 0..buckets-1
    top_k: int | None = None  # categorical: keep the k most frequent values

    @property
    def cardinality(self) -> int | None:
        """Known number of ids (vocabularies are data-sized)."""
        return self.buckets if self.kind in (FeatureKind.BUCKETIZED, FeatureKind.IDENTITY) else None


@dataclass(frozen=True)
class Label:
    name: str
    column: str | None = None  # the label is this column as it is ...
    derive: str | None = None  # ... or derived: "tips > 0.2 * fare"
    classes: tuple[str, ...] = ()  # multiclass: class names in index order

    @property
    def source_columns(self) -> tuple[str, ...]:
        if self.column:
            return (self.column,)
        try:
            return rule_columns(parse_rule(self.derive))
        except ValueError as err:
            raise ConfigError(str(err)) from None


@dataclass(frozen=True)
class Training:
    steps: int = 1000
    batch_size: int = 40
    learning_rate: float = 0.005
    hidden_units: tuple[int, ...] = (32, 16)
    embedding_dim: int = 8
    seed: int = 42
    # Worker processes that train together (Keras: MultiWorkerMirroredStrategy, PyTorch:
    # DDP); each computes its share of every batch. trainers/distributed.py says how.
    workers: int = 1
    # Above this (MB of transformed train examples) the trainers stream batches from
    # the TFRecords instead of loading the split (trainers/batches.py).
    memory_budget_mb: int = 1024
    # Where data is a pattern of spans (sluice_config.spans): train on the newest
    # `window` spans (TFX's RollingRange); the eval split comes from them by hash.
    window: int = 1

    def __post_init__(self):
        if self.workers < 1:
            raise ConfigError(f"training.workers: expected at least 1, got {self.workers}.")
        if self.window < 1:
            raise ConfigError(f"training.window: expected at least 1 span, got {self.window}.")
        if self.batch_size % self.workers:
            raise ConfigError(
                f"training.batch_size: {self.batch_size} does not split evenly across "
                f"{self.workers} workers (each computes an equal share of every batch); "
                f"use a multiple of {self.workers}.")


@dataclass(frozen=True)
class Candidate:
    """One model the pipeline trains, judges and may push: a trainer module of one
    framework (module: a dotted name with build_model(features, hparams) or run_fn(fn_args);
    empty for the framework's built-in network) and the hyperparameters it is given."""

    name: str
    framework: str
    module: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    # "champion": start from the serving model's weights when that model was trained by
    # this candidate with the same inputs (TFX Trainer's base_model); "": from scratch.
    warm_start: str = ""
    # A search over hyperparameters before training (sluice_config.tuning): the
    # tune_<name> step finds them, train_<name> trains with the best.
    tuning: Tuning | None = None

    @property
    def module_name(self) -> str:
        return self.module or framework_of(self.framework).builtin_module

    def hparams(self, training: Training) -> dict[str, Any]:
        """What build_model receives: training's network settings (learning_rate,
        hidden_units, embedding_dim, seed), overridden by the candidate's own."""
        defaults = {"learning_rate": training.learning_rate, "hidden_units": list(training.hidden_units),
                    "embedding_dim": training.embedding_dim, "seed": training.seed}
        return {**defaults, **self.hyperparameters}


DEFAULT_CANDIDATES = tuple(Candidate(name, name) for name in FRAMEWORKS)


@dataclass(frozen=True)
class Promotion:
    """When a blessed candidate replaces the champion: its primary metric's improvement
    on the same eval rows lies beyond the noise of those rows, by a paired test at this
    confidence (components.gates.paired_test; 0 turns the test off)."""

    confidence: float = 0.95

    def __post_init__(self):
        if not 0 <= self.confidence < 1:
            raise ConfigError(f"gate.promotion.confidence: expected 0 (off) up to below 1, "
                              f"got {self.confidence}.")


@dataclass(frozen=True)
class Gate:
    primary_metric: str = ""  # auc for classification, rmse for regression
    thresholds: dict[str, float] = field(default_factory=dict)  # absolute bounds
    max_regression: dict[str, float] = field(default_factory=dict)  # vs. the champion
    # Per-slice bounds: every slice with at least min_slice_examples eval rows meets them.
    slice_thresholds: dict[str, float] = field(default_factory=dict)
    min_slice_examples: int = 30
    # Promotion, a decision apart from blessing: a blessed candidate replaces the
    # champion only when its primary metric beats the champion's, on the same eval rows,
    # by more than min_improvement (or by at least that with allow_equal: TFX's rule).
    min_improvement: float = 0.0
    allow_equal: bool = False
    # Per-class bounds (precision, recall, f1): every class with eval rows meets them.
    # Without a recall bound, a multiclass candidate still fails on a class it never
    # finds (recall 0) among min_class_examples or more eval rows.
    per_class: dict[str, float] = field(default_factory=dict)
    min_class_examples: int = 10
    promotion: Promotion = Promotion()
    # A run that ends without a blessed candidate exits 5 (`sluice run --strict`), so a
    # scheduler marks it failed.
    strict: bool = False


@dataclass(frozen=True)
class Drift:
    """The drift gate (components.gates.drift): the new data's statistics against a
    reference's. numeric: bound of the Jensen-Shannon divergence on the reference's
    decile bins, for numeric, bucketized and identity features; categorical: bound of
    TFDV's L-infinity distance; features: a bound per feature, overriding both.
    reference: pinned (the first champion's data until `sluice drift pin` re-pins it),
    champion (the serving version's data) or both (components.gates.drift_reference).
    accept: let drift beyond a bound through (recorded in MLflow with the run's config;
    `--accept-drift` sets it)."""

    numeric: float = 0.1
    categorical: float = 0.3
    features: dict[str, float] = field(default_factory=dict)
    # The label's own bound (components.gates.label_drift): the Jensen-Shannon divergence for a
    # regression label, the largest change of a class's share for a classification one.
    label: float = 0.1
    reference: str = "pinned"
    accept: bool = False


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    data: Path
    schema: Path
    task: str
    label: Label
    features: tuple[Feature, ...]
    model_name: str = ""
    slices: tuple[str, ...] = ()
    split: dict[str, int] = field(default_factory=lambda: {"train": 2, "eval": 1})
    training: Training = Training()
    gate: Gate = Gate()
    drift: Drift = Drift()
    # Dotted path of the tf.Transform function; replace it to customise features.
    preprocessing_fn: str = "trainers.builtin.default_preprocessing.preprocessing_fn"
    # The models trained and judged side by side; the best blessed one is pushed.
    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    source: Path | None = None  # the YAML file this was read from

    def candidate(self, name: str) -> Candidate:
        for candidate in self.candidates:
            if candidate.name == name:
                return candidate
        names = [c.name for c in self.candidates]
        raise ConfigError(f"no candidate named {name!r}.{did_you_mean(name, names)} "
                          f"Candidates: {', '.join(names)}.")

    def select(self, names) -> PipelineConfig:
        """Only the named candidates, in the config's order ("both" or "all": every one;
        a framework's name picks its candidates when no candidate has that name)."""
        names = [n for n in names if n]
        if not names or set(names) & {"both", "all"}:
            return self
        chosen = set()
        for name in names:
            if name in FRAMEWORKS and name not in {c.name for c in self.candidates}:
                chosen |= {c.name for c in self.candidates if c.framework == name}
            else:
                chosen.add(self.candidate(name).name)
        return self.replace(candidates=tuple(c for c in self.candidates if c.name in chosen))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Every CSV column the pipeline reads: features, label sources, slices."""
        names = [*self.feature_names, *self.label.source_columns, *self.slices]
        return tuple(dict.fromkeys(names))

    @property
    def num_classes(self) -> int:
        """0 for regression: the model answers one value."""
        return {"binary": 2, "regression": 0}.get(self.task, len(self.label.classes))

    def drift_bounds(self) -> dict[str, tuple[str, float]]:
        """feature -> (TFDV comparator, bound), for every configured feature."""
        bounds = {}
        for feature in self.features:
            categorical = feature.kind == FeatureKind.CATEGORICAL
            measure = "infinity_norm" if categorical else "jensen_shannon_divergence"
            default = self.drift.categorical if categorical else self.drift.numeric
            bounds[feature.name] = (measure, self.drift.features.get(feature.name, default))
        return bounds

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment of this config's runs, and its TFX pipeline's name."""
        return f"sluice-{self.name}"

    def replace(self, **changes) -> PipelineConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: the trainers' custom_config, the MLflow record."""
        return to_json(self)

    @classmethod
    def from_custom_config(cls, raw: dict[str, Any]) -> PipelineConfig:
        """The same typed config back from to_dict(), where a step receives it as JSON."""
        return from_json(cls, raw)

    @property
    def transform_config(self) -> TransformConfig:
        return TransformConfig(self.task, self.label, self.features)

    @property
    def model_gate(self) -> ModelGate:
        return ModelGate(self.gate, self.label.source_columns, self.slices)

    @property
    def drift_gate(self) -> DriftGate:
        return DriftGate(self.drift_bounds(), self.drift.accept, self.label, self.task, self.drift.label)


# What each step receives, typed; through TFX they travel as JSON (to_json/from_json).
@dataclass(frozen=True)
class TransformConfig:
    """What Transform's preprocessing_fn reads (its custom_config): only this, so a change
    to training, the gate or the data path keeps Transform cached."""

    task: str
    label: Label
    features: tuple[Feature, ...]


@dataclass(frozen=True)
class ModelGate:
    """The model gate's parameter (evaluate, push): the bounds, the raw columns the label
    is made of, and the slice columns."""

    gate: Gate
    label_columns: tuple[str, ...]
    slices: tuple[str, ...]


@dataclass(frozen=True)
class DriftGate:
    """The drift gate's parameter (check_anomalies): feature -> (TFDV comparator, bound),
    and the label with its bound (the label is data too)."""

    bounds: dict[str, tuple[str, float]]
    accept: bool
    label: Label | None = None
    task: str = ""
    label_bound: float = 0.1


def as_parameter(value) -> str:
    """A step's typed input as a TFX component parameter: JSON text. (TFX 1.16 accepts
    Parameter[Dict[str, Any]] but fails at launch on nested dicts, "Expect list type".)"""
    return json.dumps(to_json(value), sort_keys=True)


def from_parameter(cls, text: str):
    return from_json(cls, json.loads(text))


def to_json(value) -> Any:
    """A config dataclass as JSON-safe dicts and lists (paths and kinds as strings)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (Path, enum.Enum)):
        return str(value)
    return value


def from_json(hint, value):
    """The inverse of to_json, driven by the dataclasses' annotations."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        return from_json(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{k: from_json(hints[k], v) for k, v in value.items()})
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v) for v in value)
        return tuple(from_json(a, v) for a, v in zip(args, value))
    if origin is dict:
        return {k: from_json(args[1], v) for k, v in value.items()}
    if hint is Path or (isinstance(hint, type) and issubclass(hint, enum.Enum)):
        return hint(value)
    return value


def _check_keys(section: str, given: dict, allowed) -> None:
    for key in given:
        if key not in allowed:
            raise ConfigError(
                f"{section}: unknown key '{key}'.{did_you_mean(key, allowed)} "
                f"Allowed: {', '.join(sorted(allowed))}."
            )


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _type_name(hint) -> str:
    if typing.get_args(hint):
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", None) or str(hint)


def _matches(value, hint) -> bool:
    """Does a YAML value fit a field's annotation (int, float, str, bool, dict[str, X],
    tuple[X, ...], X | None)?"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, dict) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _check_types(section: str, cls, given: dict) -> None:
    """Every given value has its field's type, or ConfigError names the key and type."""
    hints = typing.get_type_hints(cls)
    for key, value in given.items():
        hint = hints.get(key)
        if hint is None or dataclasses.is_dataclass(hint) or hint is Path:
            continue
        if not _matches(value, hint):
            where = f"{section}.{key}" if section else key
            raise ConfigError(f"{where}: expected {_type_name(hint)}, got "
                              f"{type(value).__name__} {value!r}.{_yaml_boolean_hint(value)}")


def _holds_boolean(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return any(_holds_boolean(k) or _holds_boolean(v) for k, v in value.items())
    return isinstance(value, (list, tuple)) and any(_holds_boolean(v) for v in value)


def _yaml_boolean_hint(value) -> str:
    """YAML 1.1 reads unquoted yes/no/on/off/true/false as booleans: say so where a
    boolean stands in place of a name."""
    if not _holds_boolean(value):
        return ""
    return (" YAML reads unquoted yes/no/on/off/true/false as booleans; quote them "
            "(e.g. classes: ['no', 'yes']).")


def _feature(name: str, spec: Any) -> Feature:
    spec = {"kind": spec} if isinstance(spec, str) else dict(spec or {})
    _check_keys(f"features.{name}", spec, _fields(Feature)[1:])
    kinds = [k.value for k in FeatureKind]
    kind = spec.pop("kind", FeatureKind.NUMERIC.value)
    if kind not in kinds:
        raise ConfigError(
            f"features.{name}.kind: unknown kind {kind!r}.{did_you_mean(str(kind), kinds)} "
            f"Allowed: {', '.join(kinds)}."
        )
    _check_types(f"features.{name}", Feature, spec)
    return Feature(name=name, kind=FeatureKind(kind), **spec)


def _gate(raw: dict, task: str) -> Gate:
    """The gate's bounds, on the metrics of the task's kind (rmse, mae, r2 for regression;
    auc, accuracy, loss for classification)."""
    _check_keys("gate", raw, _fields(Gate))
    _check_types("gate", Gate, raw)
    promotion = raw.pop("promotion", None) or {}
    if not isinstance(promotion, dict):
        raise ConfigError(f"gate.promotion: expected a mapping like {{confidence: 0.95}}, got {promotion!r}.")
    _check_keys("gate.promotion", promotion, _fields(Promotion))
    _check_types("gate.promotion", Promotion, promotion)
    metrics = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    gate = Gate(**raw, promotion=Promotion(**promotion))
    gate = dataclasses.replace(gate, primary_metric=gate.primary_metric or metrics[0])
    for section in ("thresholds", "max_regression", "slice_thresholds"):
        _check_metrics(f"gate.{section}", getattr(gate, section), metrics, task)
    _check_metrics("gate.primary_metric", {gate.primary_metric: 0}, metrics, task)
    if task == "regression" and gate.per_class:
        raise ConfigError("gate.per_class: a regression task has no classes to bound.")
    _check_keys("gate.per_class", gate.per_class, PER_CLASS_METRICS)
    return gate


def _check_metrics(section: str, given: dict, metrics, task: str) -> None:
    for key in given:
        if key in METRICS and key not in metrics:
            raise ConfigError(f"{section}: {key!r} is not a metric of a {task} task; its metrics: "
                              f"{', '.join(metrics)}.")
    _check_keys(section, given, metrics)


def _candidates(raw: Any) -> tuple[Candidate, ...]:
    if raw is None:
        return DEFAULT_CANDIDATES
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("candidates: expected a mapping of candidate names to {framework, "
                          "module, hyperparameters} (see docs/your-model.md).")
    candidates = []
    for name, spec in raw.items():
        where = f"candidates.{name}"
        if not isinstance(name, str) or not CANDIDATE_NAME.match(name):
            raise ConfigError(f"{where}: a candidate's name is lower-case letters, digits and _ "
                              "(it names the candidate's steps and MLflow runs), starting with a letter.")
        spec = {"framework": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a mapping with framework (and module, hyperparameters).")
        _check_keys(where, spec, _fields(Candidate)[1:])
        spec = dict(spec)
        tuning = parse_tuning(f"{where}.tuning", spec.pop("tuning", None))
        _check_types(where, Candidate, spec)
        framework = spec.get("framework")
        if framework not in FRAMEWORKS:
            raise ConfigError(f"{where}.framework: expected one of {', '.join(FRAMEWORKS)}, got "
                              f"{framework!r}.{did_you_mean(str(framework), FRAMEWORKS)}")
        if spec.get("warm_start", "") not in WARM_STARTS:
            raise ConfigError(f"{where}.warm_start: expected 'champion' (or nothing), got "
                              f"{spec['warm_start']!r}.")
        candidates.append(Candidate(name=name, **spec, tuning=tuning))
    return tuple(candidates)


def from_dict(raw: dict[str, Any], base_dir: Path = Path(".")) -> PipelineConfig:
    """Builds and validates a config; relative paths resolve against base_dir."""
    _check_keys("config", raw, _fields(PipelineConfig))
    _check_types("", PipelineConfig, {k: v for k, v in raw.items()
                                      if k not in ("data", "schema", "slices", "label",
                                                   "features", "training", "gate", "drift",
                                                   "candidates")})
    for key in ("name", "data", "schema", "task", "label", "features"):
        if key not in raw:
            raise ConfigError(f"config: missing required key '{key}'.")
    for key in ("data", "schema"):
        if not isinstance(raw[key], str):
            raise ConfigError(f"{key}: expected a path (str), got {raw[key]!r}.")
    if not isinstance(raw["label"], dict) or not isinstance(raw["features"] or {}, dict):
        raise ConfigError("label and features: expected mappings (see pipelines/configs/taxi.yaml).")
    raw = dict(raw)
    label_raw = dict(raw.pop("label"))
    _check_keys("label", label_raw, _fields(Label))
    _check_types("label", Label, label_raw)
    label = Label(**{**label_raw, "classes": tuple(label_raw.get("classes", ()))})
    if bool(label.column) == bool(label.derive):
        raise ConfigError("label: give exactly one of 'column' or 'derive'.")
    label.source_columns  # parses derive now, so a bad expression fails at load
    features = tuple(_feature(n, s) for n, s in (raw.pop("features") or {}).items())
    if not features:
        raise ConfigError("features: list at least one feature column.")
    training = dict(raw.pop("training", {}) or {})
    _check_keys("training", training, _fields(Training))
    _check_types("training", Training, training)
    drift = dict(raw.pop("drift", {}) or {})
    _check_keys("drift", drift, _fields(Drift))
    _check_types("drift", Drift, drift)
    if "hidden_units" in training:
        training["hidden_units"] = tuple(training["hidden_units"])
    if raw["task"] not in TASKS:
        raise ConfigError(
            f"task: unknown task {raw['task']!r}.{did_you_mean(str(raw['task']), TASKS)} "
            f"Allowed: {', '.join(TASKS)}."
        )
    config = PipelineConfig(
        **{k: v for k, v in raw.items() if k not in ("data", "schema", "gate", "slices", "candidates")},
        candidates=_candidates(raw.get("candidates")),
        data=(base_dir / raw["data"]).resolve(),
        schema=(base_dir / raw["schema"]).resolve(),
        label=label,
        features=features,
        slices=tuple(raw.get("slices") or ()),
        training=Training(**training),
        drift=Drift(**drift),
        gate=_gate(dict(raw.get("gate") or {}), str(raw.get("task"))),
    )
    _check_keys("drift.features", config.drift.features, config.feature_names)

    if spans.is_pattern(config.data):
        spans.check_pattern(config.data)
    if config.drift.reference not in DRIFT_REFERENCES:
        raise ConfigError(
            f"drift.reference: unknown reference {config.drift.reference!r}."
            f"{did_you_mean(config.drift.reference, DRIFT_REFERENCES)} "
            f"Allowed: {', '.join(DRIFT_REFERENCES)}.")
    if config.task == "multiclass" and len(label.classes) < 2:
        raise ConfigError("label.classes: a multiclass task lists its class names.")
    if config.task == "regression" and (label.derive or label.classes):
        raise ConfigError("label: a regression label is a numeric column ('column:'), without "
                          "classes or a derived rule.")
    return config.replace(model_name=config.model_name or f"sluice-{config.name}")


def load(name_or_path: str | Path) -> PipelineConfig:
    """Loads a bundled config by name ('taxi', 'penguin') or any YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        bundled = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(
            f"config file {path} not found.{did_you_mean(str(name_or_path), bundled)} "
            f"Bundled configs: {', '.join(bundled)}."
        )
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level.")
    try:
        return from_dict(raw, base_dir=path.parent).replace(source=path.resolve())
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"{path}: {err}") from None
