"""The model server's command-line options, shared by `sluice serve` and
`python -m serving.server`, and the call that starts it from them. Light to import: the
CLI builds its parser from here before anything heavy is loaded."""
from __future__ import annotations

import argparse
from pathlib import Path

from sluice_config.frameworks import FRAMEWORKS

DEFAULT_GRPC_PORT = 8500  # TF Serving's gRPC port


def _rate(text: str) -> float:
    rate = float(text)
    if not 0 < rate <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return rate


def _duration(text: str) -> float:
    """'10m', '90s', '1h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"write a duration such as 90s, 10m or 1h, got {text!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501, as TF Serving)")
    parser.add_argument("--grpc-port", type=int, default=DEFAULT_GRPC_PORT,
                        help="port of TF Serving's gRPC API, on the same --host (default: 8500, as "
                             "TF Serving; 0: REST only)")
    parser.add_argument("--request-log", metavar="DIR",
                        help="write a sample of the answered requests (raw features, prediction, "
                             "model, version, time) as CSV files under DIR/<model>/ (default: off)")
    parser.add_argument("--sample-rate", type=_rate, default=1.0,
                        help="with --request-log: the share of requests logged (default 1.0: all)")
    parser.add_argument("--request-log-rotate", type=_duration, default=300.0, metavar="DURATION",
                        help="with --request-log: complete a file after this long (default 5m) or "
                             "64 MiB, so `sluice monitor` sees a live server's rows")
    parser.add_argument("--strict-inputs", action="store_true",
                        help="refuse (400 / INVALID_ARGUMENT) a value outside its feature's domain "
                             "(identity ids, INT features, the schema's ranges and values); "
                             "default: answer, count it in /metrics and mark it in the request log")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="how often to look for new, removed or rolled-back versions")
    parser.add_argument("--max-request-bytes", type=int, default=4 * 2**20,
                        help="larger request bodies get 413 (default: 4 MiB)")
    parser.add_argument("--threads", type=int, default=0,
                        help="framework threads per model call (default 0: TensorFlow's and torch's own)")
    parser.add_argument("--preload", action="append", default=[], choices=FRAMEWORKS,
                        help="import a framework's libraries before serving (keras, torch), so the "
                             "first model of that framework loads sooner; repeatable")
    parser.add_argument("--batch-timeout-ms", type=float, default=2.0,
                        help="under load, how long a model call may wait for as many requests as "
                             "the previous call took (default 2; 0: never wait)")


def serve(serving_dir: Path, args: argparse.Namespace) -> None:
    from serving.model_format import flavors
    from serving.server import rest

    for framework in args.preload:
        flavors.preload(framework)
    rest.serve(serving_dir.resolve(), args.host, args.port, args.poll_seconds, args.max_request_bytes,
               args.threads, args.batch_timeout_ms / 1000, args.grpc_port,
               Path(args.request_log).resolve() if args.request_log else None, args.sample_rate,
               args.request_log_rotate, args.strict_inputs)
