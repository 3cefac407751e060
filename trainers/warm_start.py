"""warm_start: champion, TFX Trainer's base_model for any candidate: the adapter starts
from the serving model's weights instead of a fresh initialisation, but only when that
model was trained by the same candidate (by name) with the same inputs and outputs (the
same features, vocabulary sizes and task), so the weights mean the same thing. Any
other case trains from scratch, and says why; the reason is the train step's
`warm_start` in MLflow and in the history.

The serving model is the pipeline's baseline (components.baseline), wired into the
Trainer as its base_model input, so the cache key and ML Metadata see it.
"""
from __future__ import annotations

from pathlib import Path

from serving.model_format.layout import LAYOUT_FILE, FeatureLayout


def champion_dir(fn_args) -> Path | None:
    """The serving model's folder. TFX hands base_model as <artifact uri>/Format-Serving,
    its layout for Trainer outputs; the baseline artifact is the pushed folder itself."""
    base = getattr(fn_args, "base_model", None)
    if not base:
        return None
    base = Path(base)
    for folder in (base, base.parent):
        if (folder / LAYOUT_FILE).is_file():
            return folder
    return None


def source(fn_args, candidate, layout: FeatureLayout) -> tuple[Path | None, str]:
    """(the champion to start from or None, why) for a candidate with warm_start."""
    if not candidate.warm_start:
        return None, ""
    folder = champion_dir(fn_args)
    if folder is None:
        return None, "no champion serving yet: trained from scratch"
    champion = FeatureLayout.load(folder)
    if champion.candidate != candidate.name:
        return None, (f"the champion was trained by candidate {champion.candidate!r}, not "
                      f"{candidate.name!r}: trained from scratch")
    if (champion.inputs, champion.task, champion.classes) != (layout.inputs, layout.task, layout.classes):
        changed = sorted(set(champion.inputs) ^ set(layout.inputs), key=lambda i: i.name)
        named = ", ".join(f"{i.name} ({i.dtype}, {i.vocabulary_size})" for i in changed) or "the task"
        return None, f"the champion's inputs or outputs differ ({named}): trained from scratch"
    return folder, f"{STARTED} ({folder})"


STARTED = "warm-started from the champion"


def started_from(why: str) -> int | None:
    """The serving version a model was warm-started from, read from source()'s reason
    as the training history keeps it ("warm-started from the champion (<serving dir>/
    <model>/<version>)"); None when it trained from scratch."""
    if not why.startswith(STARTED):
        return None
    name = Path(why[len(STARTED):].strip().removeprefix("(").removesuffix(")")).name
    return int(name) if name.isdigit() else None
