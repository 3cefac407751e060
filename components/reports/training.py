"""What a candidate's Trainer step (train_<candidate>) reports: final loss, training
time, model size, the loss curve, and the model to log; or why training failed. The
framework adapters write the history (trainers.data.write_history) or the failure
(trainers.module_contract); TFX writes the model (components.artifacts.tfx_layout)."""
from __future__ import annotations

from pathlib import Path

from components.artifacts import tfx_layout
from components.artifacts.kept import Kept
from trainers.data import HISTORY_FILE, read_history
from trainers.module_contract import read_failure


def dir_size_mb(path: str | Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def figures(step) -> dict:
    if not (step.output("model_run") and step.output("model")):
        return {}
    failure = read_failure(tfx_layout.serving_model_dir(step.output("model").uri))
    if failure is not None:
        return {"training_failed": failure["error"]}
    if not Path(step.output("model_run").uri, HISTORY_FILE).exists():  # a run_fn module's own
        return {"model_size_mb": dir_size_mb(tfx_layout.serving_model_dir(step.output("model").uri))}
    history = read_history(step.output("model_run").uri)
    return {"final_loss": history["loss"][-1], "train_seconds": history["train_seconds"],
            "model_size_mb": dir_size_mb(tfx_layout.serving_model_dir(step.output("model").uri)),
            "workers": history.get("workers", 1),
            **({"warm_start": history["warm_start"]} if history.get("warm_start") else {}),
            "streamed_batches": int(history.get("batches") == "streamed")}


def summary(f: dict) -> str:
    if not f:
        return ""
    if "training_failed" in f:
        return f"FAILED: {f['training_failed']}"
    if "final_loss" not in f:
        return f"{f['model_size_mb']:.1f} MB (trained by the module's own run_fn)"
    how = [f"{f['workers']} workers"] if f["workers"] > 1 else []
    how += ["batches streamed from disk"] if f["streamed_batches"] else []
    how += [f["warm_start"]] if f.get("warm_start") else []
    return ", ".join([f"loss {f['final_loss']:.4f}", f"{f['model_size_mb']:.1f} MB", *how])


def kept(step, figures: dict) -> Kept:
    if not step.output("model_run") or "final_loss" not in figures:
        return Kept()
    history = read_history(step.output("model_run").uri)
    params = {"candidate": history["candidate"], "module": history["module"],
              **{f"hparam.{k}": v for k, v in history.get("hparams", {}).items()}}
    return Kept(series={"train_loss": history["loss"]}, params=params,
                model=(step.output("model").uri, history["framework"]) if step.state == "COMPLETE" else None,
                on_pipeline_run={f"{history['candidate']}.{k}": float(v) for k, v in figures.items()
                                 if not isinstance(v, str)})
