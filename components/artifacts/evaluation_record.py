"""The model gate's record of one candidate (evaluation.json in its blessing): written
by components.evaluate, read by the pusher, the reports and `sluice models`. Free of
TensorFlow, so a light command can read it."""
from __future__ import annotations

import json
from pathlib import Path

EVALUATION_FILE = "evaluation.json"


def read_evaluation(blessing_uri: str) -> dict:
    return json.loads(Path(blessing_uri, EVALUATION_FILE).read_text())
