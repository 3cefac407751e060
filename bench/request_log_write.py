"""What the request log's writer costs per request, in-process: N one-row requests
offered, then written and flushed in one batch, as the writer thread does every 0.1 s
(serving.server.request_log). With --against, another version of that module (e.g.
`git show f871cda:serving/server/request_log.py > /tmp/old_request_log.py`) is measured
the same way, in turns with this one.

usage: .venv/bin/python bench/request_log_write.py --model-dir DIR [--against FILE] [--rounds 4]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/: bench/serving.py must not shadow the serving package


def module_at(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drain(log) -> None:
    """Writes and flushes what was offered, in this thread: the version's own batch
    (_write_pending), or an older version's queue item by item."""
    if hasattr(log, "_write_pending"):
        log._write_pending()
        return
    while not log._queue.empty():
        log._write(*log._queue.get_nowait())
    for open_file in log._files.values():
        open_file.flush()


def main() -> None:
    import numpy as np

    from serving.model_format.model import ServableModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--against", type=Path, help="another version of serving/server/request_log.py")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    model = ServableModel(args.model_dir)
    loaded = SimpleNamespace(name="bench", version=1, model=model)
    columns = {n: ["Cash"] if kind == "string" else [1.5] for n, kind in model.layout.raw_features.items()}
    answers = np.array([[0.2, 0.8]], np.float32)
    versions = {"this": module_at(ROOT / "serving" / "server" / "request_log.py", "this_request_log")}
    if args.against:
        versions["against"] = module_at(args.against, "other_request_log")
    figures = {name: [] for name in versions}
    for _ in range(args.rounds):
        for name, module in versions.items():
            with tempfile.TemporaryDirectory() as folder:
                log = module.RequestLog(Path(folder))
                started = time.perf_counter()
                for _ in range(args.requests):
                    log.offer(loaded, columns, answers, {})
                offered = time.perf_counter() - started
                started = time.perf_counter()
                drain(log)
                written = time.perf_counter() - started
                figures[name].append((offered / args.requests * 1e6, written / args.requests * 1e6))
    for name, found in figures.items():
        offer, write = (sorted(f[i] for f in found)[len(found) // 2] for i in (0, 1))
        print(f"{name}: median of {args.rounds} rounds, {args.requests} one-row requests: "
              f"offer {offer:.2f} us, write + flush {write:.2f} us per request")
    if args.against:
        print(f"write this/against: {sorted(f[1] for f in figures['this'])[args.rounds // 2] / sorted(f[1] for f in figures['against'])[args.rounds // 2]:.2f}x")


if __name__ == "__main__":
    main()
