"""What a finished study leaves in the tune step's artifacts: the best point (the
Trainer's `hyperparameters` input) and the trials, with the objective curves, the
parameters' importance and two plots (optimization history, importance), which the
step's record turns into one MLflow run per trial (components.tune.kept)."""
from __future__ import annotations

import json
from pathlib import Path

from components.tuning.search import REPEAT, Search

BEST_FILE = "best_hyperparameters.txt"  # the only file: TFX's Trainer reads it as JSON
TRIALS_FILE = "trials.json"
HISTORY_PLOT = "optimization_history.png"
IMPORTANCE_PLOT = "param_importances.png"


def trials(study) -> list[dict]:
    """Every trial that trained (a repeat did not): its point, state, objective curve."""
    found = []
    for t in study.get_trials(deepcopy=False):
        if REPEAT in t.user_attrs:
            continue
        found.append({
            "number": t.number, "state": t.state.name, "point": t.user_attrs.get("point", t.params),
            "value": t.value if t.state.name == "COMPLETE" else None, "curve": sorted(t.intermediate_values.items()),
            "error": t.user_attrs.get("error", ""),
            "start_ms": int(t.datetime_start.timestamp() * 1000) if t.datetime_start else 0,
            "end_ms": int(t.datetime_complete.timestamp() * 1000) if t.datetime_complete else 0,
        })
    return found


def importances(study) -> dict[str, float]:
    """Each parameter's share of the objective's variance (Optuna's fANOVA), where
    there are enough complete trials to tell; else {}."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2 or not any(len(t.params) for t in complete):
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # one distinct point, or no variance to share out
        return {}


def write(study, search: Search, best_dir: Path, results_dir: Path, seconds: float) -> dict:
    """The two artifacts -> the summary kept in both."""
    found = trials(study)
    complete = [t for t in found if t["state"] == "COMPLETE"]
    repeats = sum(REPEAT in t.user_attrs for t in study.get_trials(deepcopy=False))
    summary = {
        "study": search.study_name, "storage": _without_password(search.storage),
        "metric": search.metric, "direction": search.direction,
        "trials": len(found), "complete": len(complete),
        "pruned": sum(t["state"] == "PRUNED" for t in found),
        "failed": sum(t["state"] == "FAIL" for t in found), "repeats": repeats,
        "seconds": round(seconds, 3),
    }
    if complete:
        best = study.best_trial
        summary.update(trial=best.number, value=best.value, values=best.user_attrs["point"])
    else:
        errors = [t["error"] for t in found if t["error"]]
        summary.update(values={}, no_trial=errors[0] if errors else "no trial completed")
    summary["importances"] = importances(study) if complete else {}
    best_dir.mkdir(parents=True, exist_ok=True)
    (best_dir / BEST_FILE).write_text(json.dumps(
        {"values": summary["values"], "tuning": summary},
        sort_keys=True, indent=2))
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / TRIALS_FILE).write_text(json.dumps({"summary": summary, "trials": found}, indent=2))
    plot(found, summary, results_dir)
    return summary


def plot(found: list[dict], summary: dict, folder: Path) -> None:
    """The optimization history (each trial's objective, the best so far) and the
    parameters' importance, as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    better = min if summary["direction"] == "minimize" else max
    figure, axes = plt.subplots(figsize=(6, 3.5))
    done = [t for t in found if t["value"] is not None]
    axes.scatter([t["number"] for t in done], [t["value"] for t in done], s=18, label="complete")
    pruned = [t for t in found if t["state"] == "PRUNED" and t["curve"]]
    axes.scatter([t["number"] for t in pruned], [t["curve"][-1][1] for t in pruned], s=18,
                 marker="x", label="pruned (last report)")
    best, line = None, []
    for t in done:
        best = t["value"] if best is None else better(best, t["value"])
        line.append((t["number"], best))
    if line:
        axes.step(*zip(*line), where="post", color="black", linewidth=1, label="best so far")
    axes.set(xlabel="trial", ylabel=f"{summary['metric']} (tuning split)", title="optimization history")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(folder / HISTORY_PLOT, dpi=90)
    plt.close(figure)
    shares = summary.get("importances") or {}
    figure, axes = plt.subplots(figsize=(6, 0.6 + 0.4 * max(len(shares), 1)))
    names = sorted(shares, key=shares.get)
    axes.barh(names, [shares[n] for n in names])
    axes.set(xlabel="importance (fANOVA)", title="hyperparameter importance"
             + ("" if shares else ": too few complete trials"))
    figure.tight_layout()
    figure.savefig(folder / IMPORTANCE_PLOT, dpi=90)
    plt.close(figure)


def read_best(best_dir: str | Path) -> dict:
    return json.loads(Path(best_dir, BEST_FILE).read_text())


def read_trials(results_dir: str | Path) -> dict:
    return json.loads(Path(results_dir, TRIALS_FILE).read_text())


def _without_password(url: str) -> str:
    """A storage URL fit for the record: postgresql://user:secret@host -> user:***@host."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url
