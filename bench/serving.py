"""`sluice serve` vs `mlflow models serve` on the same pushed model, same load, same machine.

Both servers run as separate processes on loopback ports; one load generator
(bench/http_load.py: plain keep-alive sockets, closed loop: each of C connections sends
its next request when the last one answered) drives them in turn, in short alternating
slices, so that this VM's slow spells (2x swings within minutes) fall on both alike. It
spends ~20 us of CPU per request, so on 2 shared cores the figures are the servers', not
the client's (an aiohttp client cost ~1 ms per request and lowered sluice's figures by
15-30%). Scenarios: single-instance requests at concurrency 1 and 8, and 100-instance
requests at concurrency 1. The in-process predict time of the same model
(ServableModel.predict, no HTTP) is the floor. Prints throughput, p50/p99 latency and the
ratios against the targets.

Then, on the sluice server alone: TF Serving's gRPC API next to REST (single-instance
requests at concurrency 1 and 8; the gRPC client is bench/grpc_load.py, the stubs'
channel with requests serialized up front), the same with native clients on both APIs
(bench/native_load.py: wrk for REST, ghz for gRPC; the fair pair, with the server's CPU
per request), the floor (the same clients against bench/bare_servers.py: each API's
framework on the same loop with no model behind it), and the request log's
cost (REST at concurrency 8 with `--request-log` at rate 1.0 against a server without it,
each in alternating slices).

usage: .venv/bin/python bench/serving.py [--model-dir DIR] [--seconds 8] [--rounds 4]
       [--sluice-arg=--threads=0] [--apis-only]   (--apis-only: the two APIs' tables only)
       (default model: the newest version pushed by `make run`, in sluice_home/serving)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.patches.quiet import configure_environment, prints_silenced  # noqa: E402

configure_environment()

import grpc_load  # noqa: E402  (bench/, next to this script)
import http_load  # noqa: E402
import native_load  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from serving.model_format import push_target
from serving.model_format.model import ServableModel  # noqa: E402
from serving.server.process import ServerProcess, free_port, wait_until_up  # noqa: E402

SCENARIOS = (("1 instance, concurrency 1", 1, 1), ("1 instance, concurrency 8", 1, 8),
             ("100 instances, concurrency 1", 100, 1))


def sample_rows(names, count: int) -> list[dict]:
    frame = pd.read_csv(ROOT / "data" / "taxi" / "data.csv").head(count)
    return [{c: (None if pd.isna(row[c]) else row[c].item() if hasattr(row[c], "item") else row[c])
             for c in names} for _, row in frame.iterrows()]


def floor_ms(model: ServableModel, rows: list[dict], per_request: int, repeats: int = 300) -> float:
    times = []
    for i in range(-30, repeats):  # the first 30 calls warm up and are not counted
        chunk = [rows[(i + j) % len(rows)] for j in range(per_request)]
        columns = {n: [r[n] for r in chunk] for n in model.feature_names}
        started = time.perf_counter()
        model.predict(columns)
        if i >= 0:
            times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def start_mlflow(model_dir: Path, work: Path) -> tuple[subprocess.Popen, str]:
    import mlflow.pyfunc

    from serving.model_format.mlflow_model import SERVING_PACKAGE, SluiceModel

    saved = work / "mlflow_model"
    with prints_silenced():
        mlflow.pyfunc.save_model(str(saved), python_model=SluiceModel(), code_paths=[str(SERVING_PACKAGE)],
                                 artifacts={"model_dir": str(model_dir)})
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(saved),
         "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario and server")
    parser.add_argument("--rounds", type=int, default=4,
                        help="slices each scenario's seconds are split into, alternating servers")
    parser.add_argument("--sluice-arg", action="append", default=[],
                        help="extra `sluice serve` argument, e.g. --sluice-arg=--threads=0")
    parser.add_argument("--apis-only", action="store_true",
                        help="only REST against gRPC, with the Python and the native clients")
    parser.add_argument("--log-only", type=int, default=0, metavar="TIMES",
                        help="only the request log's cost, measured this many times in a row")
    args = parser.parse_args()
    model_dir = args.model_dir or push_target.current_version(ROOT / "sluice_home" / "serving", "sluice-taxi")
    if model_dir is None:
        sys.exit("no pushed model: run `make run` first, or pass --model-dir")
    model = ServableModel(model_dir)
    rows = sample_rows(model.feature_names, 500)
    print(f"model {model_dir} ({model.layout.framework}); {args.seconds:.0f} s per scenario and server "
          f"in {args.rounds} alternating slices, 2 cores shared by servers and load generator")

    if args.apis_only:
        return compare_apis_only(model_dir, model, rows, args)
    if args.log_only:
        return compare_logging_only(model_dir, rows, args)
    floors = {per: floor_ms(model, rows, per) for per in (1, 100)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        push_target.push(model_dir, work / "serving", "bench", {"model_uri": str(model_dir)})
        mlflow_process, mlflow_url = start_mlflow(model_dir, work)
        try:
            with ServerProcess(work / "serving", *args.sluice_arg, log_path=work / "sluice.log") as sluice:
                sluice.wait_ready({"bench": 1})
                wait_until_up(f"{mlflow_url}/ping", mlflow_process)
                servers = {
                    "sluice serve": (f"{sluice.url}/v1/models/bench:predict",
                                     lambda chunk: {"instances": chunk}),
                    "mlflow models serve": (f"{mlflow_url}/invocations",
                                            lambda chunk: {"dataframe_records": chunk}),
                }
                results = run_scenarios(servers, rows, args.seconds, args.rounds)
                protocols = compare_protocols(sluice, model, rows, args.seconds, args.rounds)
                native = compare_native(sluice, model, rows, args.seconds, args.rounds)
                with ServerProcess(work / "serving", *args.sluice_arg, "--request-log", str(work / "log"),
                                   log_path=work / "logged.log") as logged:
                    logged.wait_ready({"bench": 1})
                    logging_cost = compare_logging(sluice, logged, rows, args.seconds, args.rounds)
        finally:
            mlflow_process.terminate()
            mlflow_process.wait()
    floor = compare_floor(model, rows, args.seconds, args.rounds)

    print(f"\n{'scenario':<30} {'server':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5}")
    for name, _, _ in SCENARIOS:
        for server, by_scenario in results.items():
            r = by_scenario[name]
            print(f"{name:<30} {server:<20} {r['rps']:8.1f} {r['p50']:8.2f} {r['p99']:8.2f} {r['failures']:5d}")
    print(f"in-process predict floor: {floors[1]:.2f} ms (1 row), {floors[100]:.2f} ms (100 rows)")
    print("\nratios")
    for name, per, _ in SCENARIOS:
        s, m = results["sluice serve"][name], results["mlflow models serve"][name]
        print(f"  {name:<30} throughput sluice/mlflow {s['rps'] / m['rps']:6.1f}x (target >= 5)"
              f"   p50 / in-process floor {s['p50'] / floors[per]:5.2f}x (target <= 2)")
    print(f"  p99, 1 instance, concurrency 8: {results['sluice serve'][SCENARIOS[1][0]]['p99']:.2f} ms "
          "(target <= 10)")
    print(f"\n{'sluice serve, 1 instance':<30} {'API':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5}")
    for (concurrency, api), r in protocols.items():
        print(f"{'concurrency ' + str(concurrency):<30} {api:<20} {r['rps']:8.1f} {r['p50']:8.2f} "
              f"{r['p99']:8.2f} {r['failures']:5d}")
    for concurrency in (1, 8):
        print(f"  gRPC/REST throughput at concurrency {concurrency}: "
              f"{protocols[concurrency, 'gRPC']['rps'] / protocols[concurrency, 'REST']['rps']:.2f}x")
    print_apis(native, "native clients (wrk, ghz)")
    print_apis(floor, "native clients (wrk, ghz)", "no model (bare_servers.py)")
    print_logging(logging_cost)


def print_logging(logging_cost: dict) -> None:
    off, on = logging_cost["log off"], logging_cost["log on, rate 1.0"]
    print(f"\nrequest log, REST 1 instance, concurrency 8: off {off['rps']:.1f} req/s, on "
          f"{on['rps']:.1f} req/s (p99 {off['p99']:.2f} / {on['p99']:.2f} ms, failures {on['failures']}): "
          f"{on['rps'] / off['rps']:.2f}x (target >= 0.90); server CPU per request {off['cpu_us']:.0f} / "
          f"{on['cpu_us']:.0f} us: {off['cpu_us'] / on['cpu_us']:.2f}x", flush=True)


def compare_logging_only(model_dir: Path, rows, args) -> None:
    """The request log's cost alone, args.log_only times: a server without it and one
    with it (rate 1.0), loaded in alternating slices."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        push_target.push(model_dir, work / "serving", "bench", {"model_uri": str(model_dir)})
        with ServerProcess(work / "serving", *args.sluice_arg, log_path=work / "sluice.log") as plain, \
                ServerProcess(work / "serving", *args.sluice_arg, "--request-log", str(work / "log"),
                              log_path=work / "logged.log") as logged:
            plain.wait_ready({"bench": 1})
            logged.wait_ready({"bench": 1})
            # unreported: a fresh server answers slower for its first seconds (an A/A
            # pair of servers without the log measured 0.94x, 1.04x, 1.07x unwarmed)
            compare_logging(plain, logged, rows, 4, 2)
            for _ in range(args.log_only):
                print_logging(compare_logging(plain, logged, rows, args.seconds, args.rounds))


def alternate(runs: dict, seconds: float, rounds: int) -> dict:
    """Each of runs (name -> function(seconds) -> load result) gets `rounds` slices,
    taking turns (order reversed every round); -> name -> pooled rps, p50, p99, failures."""
    slices: dict[str, list] = {name: [] for name in runs}
    for round_ in range(rounds):
        order = list(runs.items())
        for name, run in order if round_ % 2 == 0 else order[::-1]:
            slices[name].append(run(seconds / rounds))
    pooled = {}
    for name, results in slices.items():
        latencies = np.concatenate([r["latencies"] for r in results])
        pooled[name] = {"rps": len(latencies) / seconds, "p50": float(np.percentile(latencies, 50)),
                        "p99": float(np.percentile(latencies, 99)),
                        "failures": sum(r["failures"] for r in results)}
    return pooled


def grpc_requests(model: ServableModel, rows: list[dict]) -> list[bytes]:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    out = []
    for row in rows[:200]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "bench"
        for name, kind in model.layout.raw_features.items():
            value = row[name]
            request.inputs[name].CopyFrom(tf.make_tensor_proto(
                ["" if value is None else value] if kind == "string" else [np.nan if value is None else value],
                tf.string if kind == "string" else tf.float64))
        out.append(request.SerializeToString())
    return out


def compare_protocols(sluice, model: ServableModel, rows, seconds: float, rounds: int) -> dict:
    import orjson

    url = f"{sluice.url}/v1/models/bench:predict"
    bodies = [orjson.dumps({"instances": [r]}) for r in rows[:200]]
    requests = grpc_requests(model, rows)
    out = {}
    for concurrency in (1, 8):
        pooled = alternate({
            "REST": lambda s: http_load.run(url, bodies, concurrency, s, warmup=0.3),
            "gRPC": lambda s: grpc_load.run(sluice.grpc_target, requests, concurrency, s, warmup=0.3),
        }, seconds, rounds)
        out.update({(concurrency, api): r for api, r in pooled.items()})
    return out


def compare_native(sluice, model: ServableModel, rows, seconds: float, rounds: int) -> dict:
    """REST with wrk and gRPC with ghz, one row per request (the same row on both), in
    alternating slices; -> (concurrency, API) -> mean rps, p50, p99, the server's CPU
    per request, over the slices."""
    if native_load.missing():
        print(f"native clients not run: install {', '.join(native_load.missing())}")
        return {}
    return native_pair(f"{sluice.url}/v1/models/bench:predict", sluice.grpc_target,
                       (sluice.process.pid, sluice.process.pid), model, rows, seconds, rounds)


def native_pair(url: str, target: str, pids: tuple[int, int], model: ServableModel, rows,
                seconds: float, rounds: int) -> dict:
    """wrk on url and ghz on target in alternating slices, with the CPU time (user +
    system) of the process answering each (pids: REST's, gRPC's) per request."""
    import orjson
    import psutil

    body, request = orjson.dumps({"instances": [rows[0]]}), grpc_requests(model, rows[:1])[0]
    out = {}
    for concurrency in (1, 8):
        slices: dict[str, list] = {"REST (wrk)": [], "gRPC (ghz)": []}
        runs = {"REST (wrk)": (pids[0], lambda s: native_load.wrk(url, body, concurrency, s)),
                "gRPC (ghz)": (pids[1], lambda s: native_load.ghz(target, request, concurrency, s))}
        for round_ in range(rounds):
            order = list(runs.items())
            for api, (pid, run) in order if round_ % 2 == 0 else order[::-1]:
                process = psutil.Process(pid)
                before = sum(process.cpu_times()[:2])
                result = run(seconds / rounds)
                spent = sum(process.cpu_times()[:2]) - before
                slices[api].append({**result, "cpu_us": 1e6 * spent / max(result["rps"] * (seconds / rounds), 1)})
        for api, results in slices.items():
            out[concurrency, api] = {key: float(np.mean([r[key] for r in results]))
                                     for key in ("rps", "p50", "p99", "cpu_us")}
            out[concurrency, api]["failures"] = sum(r["failures"] for r in results)
    return out


def compare_floor(model: ServableModel, rows, seconds: float, rounds: int) -> dict:
    """The same pair of clients against bench/bare_servers.py: each API with no model
    behind it, on the same loop as sluice's. What those cost is the framework's floor."""
    if native_load.missing():
        return {}
    ports = {api: free_port() for api in ("rest", "grpc")}
    processes = {api: subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_servers.py"), api, str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for api, port in ports.items()}
    try:
        import grpc

        wait_until_up(f"http://127.0.0.1:{ports['rest']}/", processes["rest"])
        grpc.channel_ready_future(grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}")).result(timeout=120)
        return native_pair(f"http://127.0.0.1:{ports['rest']}/v1/models/bench:predict",
                           f"127.0.0.1:{ports['grpc']}", (processes["rest"].pid, processes["grpc"].pid),
                           model, rows, seconds, rounds)
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


def print_apis(results: dict, clients: str, title: str = "sluice serve, 1 instance") -> None:
    if not results:
        return
    cpu = any("cpu_us" in r for r in results.values())
    print(f"\n{title:<30} {clients:<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5}"
          + (f" {'server CPU/req us':>18}" if cpu else ""))
    for (concurrency, api), r in results.items():
        print(f"{'concurrency ' + str(concurrency):<30} {api:<26} {r['rps']:8.1f} {r['p50']:8.2f} "
              f"{r['p99']:8.2f} {int(r['failures']):5d}" + (f" {r['cpu_us']:18.0f}" if cpu else ""))
    for concurrency in (1, 8):
        rest, grpc_ = (results[concurrency, api] for api in [a for c, a in results if c == concurrency])
        print(f"  gRPC/REST throughput at concurrency {concurrency}: {grpc_['rps'] / rest['rps']:.2f}x, "
              f"p99 {grpc_['p99']:.2f} against {rest['p99']:.2f} ms")


def compare_apis_only(model_dir: Path, model: ServableModel, rows, args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        push_target.push(model_dir, work / "serving", "bench", {"model_uri": str(model_dir)})
        with ServerProcess(work / "serving", *args.sluice_arg, log_path=work / "sluice.log") as sluice:
            sluice.wait_ready({"bench": 1})
            python = compare_protocols(sluice, model, rows, args.seconds, args.rounds)
            native = compare_native(sluice, model, rows, args.seconds, args.rounds)
    floor = compare_floor(model, rows, args.seconds, args.rounds)
    print_apis(python, "Python clients")
    print_apis(native, "native clients (wrk, ghz)")
    print_apis(floor, "native clients (wrk, ghz)", "no model (bare_servers.py)")
    if floor:
        print("  the floor: what aiohttp and grpc.aio alone cost per request, on the same loop "
              "(bench/bare_servers.py); gRPC cannot go below its row")


def compare_logging(plain, logged, rows, seconds: float, rounds: int) -> dict:
    """REST at concurrency 8 against a server without the log and one with it (rate 1.0):
    throughput, latency, and the server's CPU time per request (user + system, from
    the OS: steadier than throughput on a machine whose speed drifts)."""
    import orjson
    import psutil

    bodies = [orjson.dumps({"instances": [r]}) for r in rows[:200]]
    spent = {"log off": [], "log on, rate 1.0": []}

    def measured(name, server):
        process = psutil.Process(server.process.pid)

        def run(s):
            before = sum(process.cpu_times()[:2])
            result = http_load.run(f"{server.url}/v1/models/bench:predict", bodies, 8, s, warmup=0.3)
            spent[name].append((sum(process.cpu_times()[:2]) - before, len(result["latencies"])))
            return result
        return run

    pooled = alternate({"log off": measured("log off", plain),
                        "log on, rate 1.0": measured("log on, rate 1.0", logged)}, seconds, rounds)
    for name, parts in spent.items():  # the warm-up's requests are in the CPU time too: close enough
        pooled[name]["cpu_us"] = sum(c for c, _ in parts) / max(sum(n for _, n in parts), 1) * 1e6
    return pooled


def run_scenarios(servers: dict, rows, seconds: float, rounds: int) -> dict:
    """Each scenario runs on every server in `rounds` short slices, the servers taking
    turns (order reversed every round), so slow spells of this shared VM hit both
    alike; a slice's first 0.3 s warms the connections up and is not counted."""
    import orjson

    out: dict[str, dict] = {server: {} for server in servers}
    for name, per, concurrency in SCENARIOS:
        slices: dict[str, list] = {server: [] for server in servers}
        for round_ in range(rounds):
            order = list(servers.items())
            for server, (url, wrap) in order if round_ % 2 == 0 else order[::-1]:
                bodies = [orjson.dumps(wrap(rows[i:i + per]))
                          for i in range(0, len(rows) - per + 1, max(per, 1))][:200]
                slices[server].append(http_load.run(url, bodies, concurrency, seconds / rounds, warmup=0.3))
        for server, results in slices.items():
            latencies = np.concatenate([r["latencies"] for r in results])
            out[server][name] = {"rps": len(latencies) / seconds,
                                 "p50": float(np.percentile(latencies, 50)),
                                 "p99": float(np.percentile(latencies, 99)),
                                 "failures": sum(r["failures"] for r in results)}
    return out


if __name__ == "__main__":
    main()
