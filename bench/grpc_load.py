"""Closed-loop gRPC load generator with the `tensorflow-serving-api` stubs, one thread
and one channel per client, as bench/http_load.py does for HTTP: each client sends its
next PredictRequest when the last one answered. Its requests are serialized once up
front (the stub's serializer is given bytes), so the client's own cost per call is
gRPC's, not protobuf building."""
from __future__ import annotations

import threading
import time

import grpc
from http_load import summary  # bench/, next to this script

METHOD = "/tensorflow.serving.PredictionService/Predict"


def run(target: str, requests: list[bytes], concurrency: int, seconds: float, warmup: float = 1.0) -> dict:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency
    start = time.perf_counter() + warmup
    stop = start + seconds

    def worker(w: int) -> None:
        with grpc.insecure_channel(target) as channel:
            call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            i = w
            while (now := time.perf_counter()) < stop:
                try:
                    call(requests[i % len(requests)], timeout=30)
                    ok = True
                except grpc.RpcError:
                    ok = False
                if now >= start:
                    latencies[w].append(time.perf_counter() - now)
                    failures[w] += not ok
                i += 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies, failures, seconds)
