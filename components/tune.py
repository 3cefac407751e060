"""tune_<candidate>: searches a candidate's hyperparameters before it trains (TFX's
Tuner contract: its `best_hyperparameters` artifact is the Trainer's `hyperparameters`
input), for either framework, through the candidate's adapter.

The objective is the gate's primary metric, in the gate's direction, on a tuning split
carved from the train split (components.tuning.search); the eval rows the gate judges
on are never read. The step's key holds the config (the space, the split's share and
seed), the module by content and the transformed data: an unchanged rerun reuses the
best point without a trial. Its record: one MLflow run per trial under the step's run,
the best trial named on the step's run, the plots as artifacts.
"""

import json
import time
import uuid
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples, HyperParameters, TransformGraph, TunerResults

from components.artifacts.kept import ChildRun, Kept
from components.tuning import results
from components.tuning.search import Search, run
from trainers import module_contract

STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


@component
def tune(
    examples: InputArtifact[Examples],  # the Transform's transformed examples
    transform_graph: InputArtifact[TransformGraph],
    best_hyperparameters: OutputArtifact[HyperParameters],
    tuner_results: OutputArtifact[TunerResults],
    custom_config: Parameter[str],  # the config with this candidate alone, as the Trainer gets it
    storage: Parameter[str],  # Optuna's RDB URL (SQLite in the home unless tuning.storage)
):
    from tfx.types import artifact_utils

    config, candidate = module_contract.from_custom_config(json.loads(custom_config))
    module_contract.load(candidate)  # a module gone or broken fails here, naming it
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    train = artifact_utils.get_split_uri([examples], "train")
    search = Search(config=config, candidate=candidate.name, transform_output=transform_graph.uri,
                    train_files=(f"{train}/*",), storage=storage,
                    study_name=f"{config.experiment_name}.{candidate.name}."
                               f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    started = time.time()
    study = run(search)
    results.write(study, search, Path(best_hyperparameters.uri), Path(tuner_results.uri),
                  time.time() - started)


# What the step reports (components.reports.step_reports asks): its figures, its line
# in the step log, and the record: the trials as runs under the step's run.

def figures(step) -> dict:
    if not step.output("tuner_results") or not Path(step.output("tuner_results").uri,
                                                     results.TRIALS_FILE).exists():
        return {}
    s = results.read_trials(step.output("tuner_results").uri)["summary"]
    found = {"trials": s["trials"], "complete_trials": s["complete"], "pruned_trials": s["pruned"],
             "failed_trials": s["failed"], "tuning_seconds": s["seconds"], "study": s["study"],
             "objective": s["metric"]}
    if "trial" in s:
        found.update(best_trial=s["trial"], best_value=s["value"],
                     best_hyperparameters=json.dumps(s["values"], sort_keys=True))
    else:
        found["no_trial_completed"] = s["no_trial"]
    return found


def summary(f: dict) -> str:
    if not f:
        return ""
    counts = (f"{f['trials']} trials ({f['complete_trials']} complete, {f['pruned_trials']} pruned, "
              f"{f['failed_trials']} failed)")
    if "best_trial" not in f:
        return f"{counts}; none completed, trained with the hyperparameters given: {f['no_trial_completed']}"
    return f"{counts}; best trial {f['best_trial']}: {f['objective']} {f['best_value']:.4f} {f['best_hyperparameters']}"


def kept(step, figures: dict) -> Kept:
    if not figures:
        return Kept()
    folder = Path(step.output("tuner_results").uri)
    record = results.read_trials(folder)
    metric = record["summary"]["metric"]
    children = [] if step.state != "COMPLETE" else [  # a reused step ran no trial this time
        ChildRun(name=f"trial-{t['number']}", start_ms=t["start_ms"], end_ms=t["end_ms"],
                 status=STATUS.get(t["state"], "FAILED"),
                 params={k: json.dumps(v) if isinstance(v, list) else v for k, v in t["point"].items()},
                 tags={"sluice.trial": str(t["number"]), "sluice.trial_state": t["state"],
                       "sluice.study": record["summary"]["study"],
                       **({"sluice.best_trial": "true"} if t["number"] == figures.get("best_trial") else {}),
                       **({"sluice.error": t["error"][:5000]} if t["error"] else {})},
                 metrics={metric: t["value"]} if t["value"] is not None else {},
                 series={f"tuning_{metric}": [tuple(p) for p in t["curve"]]})
        for t in record["trials"]]
    return Kept(files=[folder / results.HISTORY_PLOT, folder / results.IMPORTANCE_PLOT,
                       folder / results.TRIALS_FILE],
                params={f"best.{k}": v for k, v in record["summary"]["values"].items()},
                children=children)
