"""`sluice serve`: the TensorFlow Serving REST API over a serving dir (its gRPC API
beside it: serving.server.grpc_api), for Keras and PyTorch pushes alike (raw features
in, the transform applied inside).

Built on aiohttp: a mature asyncio HTTP server whose request parser is C code, so one
process on 2 cores spends its time in the model rather than in HTTP (it was already in
the lock), running on uvloop's event loop (libuv), which served ~15-20% more requests
per second than asyncio's own loop at concurrency 8 and 100-row requests. Model calls
run on a worker thread via serving.server.batching; loading and swapping versions happen off
the request path in serving.server.repository.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from pathlib import Path

import orjson
import uvloop
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from serving.server import input_domains
from serving.server import tf_serving_json as api
from serving.server.batching import BATCH_TIMEOUT, Batcher
from serving.server.repository import ModelRepository

log = logging.getLogger("sluice.serving")
DEFAULT_PORT = 8501  # TF Serving's REST port
MAX_REQUEST_BYTES = 4 * 2**20
LABELS_FILE = "labels.json"  # optional, per model: {"stable": 3}
ROUTE = re.compile(
    r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<action>:predict|:classify|:regress|/metadata)?$")


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("sluice_requests", "Requests by model, version, API and status",
                                ["model", "version", "api", "code"], registry=self.registry)
        self.latency = Histogram(
            "sluice_request_latency_seconds", "Request latency by model, version and API",
            ["model", "version", "api"], registry=self.registry,
            buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5))
        self.logged_rows = Counter("sluice_request_log_rows", "Instances written to the request log",
                                   registry=self.registry)
        self.log_dropped = Counter("sluice_request_log_dropped",
                                   "Sampled requests not logged (the log's queue was full)",
                                   registry=self.registry)
        self.out_of_domain = Counter("sluice_out_of_domain_values",
                                     "Values outside their feature's domain (schema, identity buckets)",
                                     ["model", "version", "feature"], registry=self.registry)
        self.batch_rows = Histogram("sluice_batch_rows", "Rows per model call",
                                    registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 100, 512))


def error(message: str, status: int) -> web.Response:
    return web.Response(body=orjson.dumps({"error": message}), status=status,
                        content_type="application/json")


def ok(body: dict) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


class ModelServer:
    def __init__(self, serving_dir: Path, poll_seconds: float = 1.0, max_request_bytes=MAX_REQUEST_BYTES,
                 batch_timeout: float = BATCH_TIMEOUT, grpc_address: tuple[str, int] | None = None,
                 request_log: Path | None = None, sample_rate: float = 1.0,
                 request_log_rotate: float = 300.0, strict_inputs: bool = False):
        self.strict_inputs = strict_inputs
        self.repository = ModelRepository(serving_dir)
        self.grpc_address = grpc_address  # (host, port) for TF Serving's gRPC API, or None
        self.grpc_server = None
        self.poll_seconds = poll_seconds
        self.max_request_bytes = max_request_bytes
        self.metrics = Metrics()
        self.batcher = Batcher(max_wait=batch_timeout, on_batch=self.metrics.batch_rows.observe)
        self.request_log = None
        if request_log is not None:
            from serving.server.request_log import RequestLog

            self.request_log = RequestLog(request_log, sample_rate, on_drop=self.metrics.log_dropped.inc,
                                          on_rows=self.metrics.logged_rows.inc,
                                          rotate_seconds=request_log_rotate)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_request_bytes)
        app.router.add_route("*", "/v1/models/{tail:.+}", self.handle_model)
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/readyz", self.ready)
        app.router.add_get("/metrics", self.prometheus)
        app.router.add_get("/monitoring/prometheus/metrics", self.prometheus)  # TF Serving's path
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app) -> None:
        if self.request_log is not None:
            self.request_log.start()
        self.batcher.start()
        await asyncio.get_running_loop().run_in_executor(None, self.repository.refresh)
        app["poller"] = asyncio.get_running_loop().create_task(self._poll())
        if self.grpc_address:
            from serving.server import grpc_api

            self.grpc_server = await grpc_api.start(self, *self.grpc_address, self.max_request_bytes)

    async def _stop(self, app) -> None:
        if self.grpc_server is not None:  # answers what is in flight, then stops
            await self.grpc_server.stop(5)
        app["poller"].cancel()
        await self.batcher.stop()
        if self.request_log is not None:  # every answered request is in the files after this
            await asyncio.get_running_loop().run_in_executor(None, self.request_log.stop)

    async def _poll(self) -> None:
        """Picks up pushes, rollbacks and removals; loads run on a thread of their own."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await loop.run_in_executor(None, self.repository.refresh)
            except Exception:  # keep polling; the folder may be mid-change
                log.exception("refreshing %s failed", self.repository.serving_dir)

    async def health(self, request) -> web.Response:
        return ok({"status": "ok"})

    async def ready(self, request) -> web.Response:
        states = self.repository.states
        served = {n: s.served.version if s.served else None for n, s in states.items()}
        status = 200 if served and all(served.values()) else 503
        return web.Response(body=orjson.dumps({"models": served}), status=status,
                            content_type="application/json")

    async def prometheus(self, request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry),
                            content_type="text/plain", charset="utf-8")

    def resolve(self, name: str, version: str | None, label: str | None):
        """-> the LoadedVersion a request names, or raises RequestError 404."""
        loaded = self.repository.served(name)
        if loaded is None:
            raise api.RequestError(f"Servable not found for request: Latest({name})", 404)
        if version is not None:
            if not version.isdigit() or int(version) != loaded.version:
                raise api.RequestError(
                    f"Servable not found for request: Specific({name}, {version}); "
                    f"version {loaded.version} is served", 404)
        if label is not None:
            labels_path = self.repository.serving_dir / name / LABELS_FILE
            labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
            if label not in labels:
                raise api.RequestError(f"Unrecognized servable version label: {label}", 404)
            if labels[label] != loaded.version:
                raise api.RequestError(
                    f"label '{label}' points to version {labels[label]}, which is not loaded "
                    f"(version {loaded.version} is served)", 404)
        return loaded

    async def handle_model(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        match = ROUTE.match(request.match_info["tail"])
        action = (match["action"] or "") if match else ""
        api_name = action.strip(":/") or "status"
        loaded = None
        try:
            if not match:
                raise api.RequestError(f"Malformed request: {request.method} {request.path}", 404)
            verb = action.startswith(":")
            if request.method != ("POST" if verb else "GET"):
                raise api.RequestError(
                    f"Malformed request: {request.method} {request.path} "
                    f"(use {'POST' if verb else 'GET'})", 405)
            if not verb and action != "/metadata":
                response = self._status(match["name"], match["version"], match["label"])
            else:
                loaded = self.resolve(match["name"], match["version"], match["label"])
                if action == "/metadata":
                    response = ok(api.metadata_response(loaded.name, loaded.version, loaded.model.layout))
                else:
                    response = await self._infer(loaded, action, request)
        except api.RequestError as err:
            response = error(str(err), err.status)
        except web.HTTPRequestEntityTooLarge:
            response = error(f"request body exceeds {self.max_request_bytes} bytes", 413)
        except Exception as err:  # the model failed: report, keep serving
            log.exception("request failed")
            response = error(f"{type(err).__name__}: {err}", 500)
        name = match["name"] if match else "?"
        version = str(loaded.version) if loaded else ""
        self.metrics.requests.labels(name, version, api_name, str(response.status)).inc()
        self.metrics.latency.labels(name, version, api_name).observe(time.perf_counter() - started)
        return response

    def _status(self, name: str, version: str | None, label: str | None) -> web.Response:
        return ok(api.status_response(self.status_rows(name, version, label)))

    def status_rows(self, name: str, version: str | None, label: str | None) -> list[tuple[int, str, str]]:
        """[(version, state, error)] of a model, as GetModelStatus reports them."""
        state = self.repository.states.get(name)
        if state is None:
            raise api.RequestError(f"Could not find any versions of model {name}", 404)
        rows = [(v, "END", e) for v, e in sorted(state.failed.items())]
        if state.loading is not None:
            rows.append((state.loading, "LOADING", ""))
        if state.served:
            rows.append((state.served.version, "AVAILABLE", ""))
        if version is not None or label is not None:
            wanted = self.resolve(name, version, label).version
            rows = [r for r in rows if r[0] == wanted]
        return rows

    async def score(self, loaded, columns: dict[str, list], rows: int):
        """The model's answer for checked feature columns (REST and gRPC alike). Values
        outside their domain are counted, marked in the request log, or refused with
        --strict-inputs (serving.server.input_domains)."""
        found = input_domains.outside(loaded.model.layout, columns) if loaded.model.layout.domains else {}
        for feature, values in found.items():
            self.metrics.out_of_domain.labels(loaded.name, str(loaded.version), feature).inc(len(values))
        if found and self.strict_inputs:
            raise api.RequestError(input_domains.refusal(loaded.model.layout, found))
        answers = await self.batcher.predict(loaded, columns, rows)
        if self.request_log is not None:
            self.request_log.offer(loaded, columns, answers, found)
        return answers

    async def _infer(self, loaded, action: str, request: web.Request) -> web.Response:
        if request.content_length and request.content_length > self.max_request_bytes:
            raise web.HTTPRequestEntityTooLarge(self.max_request_bytes, request.content_length)
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise api.RequestError(f"JSON Parse error: {err}") from None
        layout = loaded.model.layout
        if action == ":regress" and not layout.regression:
            raise api.RequestError(
                f"model {loaded.name} is a {layout.task} classifier: use :classify or :predict, "
                "not :regress")
        if action == ":classify" and layout.regression:
            raise api.RequestError(
                f"model {loaded.name} is a regression model: use :regress or :predict, not :classify")
        if action == ":predict":
            columns, columnar = api.parse_predict(layout, body)
        else:
            columns, columnar = api.parse_classify(layout, body), False
        rows = len(next(iter(columns.values())))
        probs = await self.score(loaded, columns, rows)
        if action == ":classify":
            return ok(api.classify_response(layout, probs))
        if action == ":regress":
            return ok(api.regress_response(probs))
        return ok(api.predict_response(probs, columnar))


def limit_model_threads(threads: int) -> None:
    """Caps the frameworks' thread pools (for machines shared with other services).
    0 keeps their defaults; on the 2-core benchmark machine 1 and 0 measured the same."""
    if threads <= 0:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)  # torch, read when it is first imported
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def serve(serving_dir: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          poll_seconds: float = 1.0, max_request_bytes: int = MAX_REQUEST_BYTES,
          threads: int = 0, batch_timeout: float = BATCH_TIMEOUT, grpc_port: int = 0,
          request_log: Path | None = None, sample_rate: float = 1.0,
          request_log_rotate: float = 300.0, strict_inputs: bool = False) -> None:
    limit_model_threads(threads)
    server = ModelServer(serving_dir, poll_seconds, max_request_bytes, batch_timeout,
                         (host, grpc_port) if grpc_port else None, request_log, sample_rate,
                         request_log_rotate, strict_inputs)
    log.info("serving %s on http://%s:%s/v1/models/<name>", serving_dir, host, port)
    web.run_app(server.app(), host=host, port=port, print=None, access_log=None,
                handle_signals=True, loop=uvloop.new_event_loop())
