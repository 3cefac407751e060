"""What a Trainer step (train_keras, train_torch) reports: final loss, training time,
model size, the loss curve, and the model to log. The trainers write the history
(trainers.data.write_history); TFX writes the model (components.tfx_layout)."""
from __future__ import annotations

from pathlib import Path

from components import tfx_layout
from components.step_reports import Kept
from trainers.data import read_history


def dir_size_mb(path: str | Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def figures(step) -> dict:
    if not (step.output("model_run") and step.output("model")):
        return {}
    history = read_history(step.output("model_run").uri)
    return {"final_loss": history["loss"][-1], "train_seconds": history["train_seconds"],
            "model_size_mb": dir_size_mb(tfx_layout.serving_model_dir(step.output("model").uri)),
            "workers": history.get("workers", 1),
            "streamed_batches": int(history.get("batches") == "streamed")}


def summary(f: dict) -> str:
    if not f:
        return ""
    how = [f"{f['workers']} workers"] if f["workers"] > 1 else []
    how += ["batches streamed from disk"] if f["streamed_batches"] else []
    return ", ".join([f"loss {f['final_loss']:.4f}", f"{f['model_size_mb']:.1f} MB", *how])


def kept(step, figures: dict) -> Kept:
    if not step.output("model_run"):
        return Kept()
    history = read_history(step.output("model_run").uri)
    framework = history["framework"]
    return Kept(series={"train_loss": history["loss"]},
                model=(step.output("model").uri, framework) if step.state == "COMPLETE" else None,
                on_pipeline_run={f"{framework}.{k}": float(v) for k, v in figures.items()})
