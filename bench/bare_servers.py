"""The floor of each API in Python: servers that answer without a model, built as
`sluice serve` builds its two APIs (aiohttp and grpc.aio, both on uvloop's event loop).

The REST one reads the body and parses it with orjson, as sluice does, and answers one
fixed prediction. The gRPC one gets each request deserialized into a PredictRequest by
grpc (its 14 input tensors, as sluice gets them) and answers one fixed PredictResponse.
What each costs per request is the framework's own work: no serving code can go below
it. bench/serving.py --apis-only drives both with wrk and ghz next to `sluice serve`.

usage: .venv/bin/python bench/bare_servers.py rest|grpc PORT
"""
from __future__ import annotations

import asyncio
import sys


async def rest(port: int) -> None:
    import orjson
    from aiohttp import web

    answer = orjson.dumps({"predictions": [[0.5]]})

    async def predict(request: web.Request) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/models/{name}:predict", predict)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def grpc_(port: int) -> None:
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    answer = predict_pb2.PredictResponse()
    answer.model_spec.name = "bench"
    answer.outputs["output_0"].float_val.append(0.5)

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        async def Predict(self, request, context):
            return answer

    server = grpc.aio.server()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    import uvloop

    api, port = sys.argv[1], int(sys.argv[2])
    uvloop.run({"rest": rest, "grpc": grpc_}[api](port))


if __name__ == "__main__":
    main()
