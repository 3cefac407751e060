"""Native load generators for both of `sluice serve`'s APIs, so neither is measured
through a Python client: wrk (C, Debian's `wrk`) for REST and ghz (Go,
`go install github.com/bojand/ghz/cmd/ghz@latest`) for gRPC. Both run closed loops: C
connections, each sending its next request when the last one answered; the same request
(one row) on both APIs. -> {rps, p50, p99 (ms), failures}, like http_load.summary.

bench/http_load.py and bench/grpc_load.py are the Python clients: http_load is a raw
socket loop (~20 us a request), grpc_load Python's gRPC stubs, which cost far more per
call on the same two cores; these two are the fair pair.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

GHZ_CALL = "tensorflow.serving.PredictionService.Predict"


def find(tool: str) -> str | None:
    found = shutil.which(tool)
    if found is None and tool == "ghz" and (Path.home() / "go" / "bin" / "ghz").exists():
        found = str(Path.home() / "go" / "bin" / "ghz")
    return found


def missing() -> list[str]:
    """The tools not installed, with how to install each."""
    hints = {"wrk": "apt-get install wrk", "ghz": "go install github.com/bojand/ghz/cmd/ghz@latest"}
    return [f"{tool} ({hint})" for tool, hint in hints.items() if find(tool) is None]


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk(url: str, body: bytes, concurrency: int, seconds: float) -> dict:
    """POSTs body to url as JSON over `concurrency` keep-alive connections."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = {json.dumps(body.decode())}\n")
        out = subprocess.run([find("wrk"), "-t", str(min(concurrency, 2)), "-c", str(concurrency),
                              "-d", f"{max(seconds, 1):.0f}s", "--latency", "-s", str(script), url],
                             capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)\.000%\s+(\S+)$", out, re.M)) or \
        dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
            "p50": _ms(percentiles["50"]), "p99": _ms(percentiles["99"]),
            "failures": (int(errors.group(1)) if errors else 0)
            + (sum(map(int, socket_errors.groups())) if socket_errors else 0)}


def protoset(path: Path) -> Path:
    """TF Serving's PredictionService and every file it imports, as the
    FileDescriptorSet ghz reads (the server offers no reflection)."""
    from google.protobuf import descriptor_pb2
    from tensorflow_serving.apis import prediction_service_pb2

    files, seen = descriptor_pb2.FileDescriptorSet(), set()

    def add(descriptor) -> None:
        if descriptor.name in seen:
            return
        seen.add(descriptor.name)
        for dependency in descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        files.file.append(proto)

    add(prediction_service_pb2.DESCRIPTOR)
    path.write_bytes(files.SerializeToString())
    return path


def ghz(target: str, request: bytes, concurrency: int, seconds: float) -> dict:
    """Sends the serialized PredictRequest over `concurrency` connections, one worker each."""
    with tempfile.TemporaryDirectory() as tmp:
        request_file = Path(tmp, "request.bin")
        request_file.write_bytes(request)
        out = subprocess.run([find("ghz"), "--insecure", "--protoset", str(protoset(Path(tmp, "ps.protoset"))),
                              "--call", GHZ_CALL, "--binary-file", str(request_file),
                              "-c", str(concurrency), "--connections", str(concurrency),
                              "-z", f"{max(seconds, 1):.0f}s", "-O", "json", target],
                             capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    latency = {d["percentage"]: d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    codes = report.get("statusCodeDistribution") or {}
    # the calls in flight when -z ends: ghz closes their connections ("transport is closing")
    cut = sum(n for error, n in (report.get("errorDistribution") or {}).items() if "transport is closing" in error)
    return {"rps": report["rps"], "p50": latency.get(50, float("nan")), "p99": latency.get(99, float("nan")),
            "failures": sum(n for code, n in codes.items() if code != "OK") - cut}
