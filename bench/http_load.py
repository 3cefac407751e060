"""Closed-loop HTTP/1.1 keep-alive load generator on plain sockets, one thread per
connection. ~20 us of client CPU per request, so on a 2-core machine shared with the
server the measurement is the server's, not the client's."""
from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import numpy as np


def _request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Reads one Content-Length response from sock; -> (status code, whether the
    server closes the connection after it)."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:])}
    length = int(fields["content-length"])
    while len(buffer) < end + 4 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    del buffer[:end + 4 + length]
    return status, fields.get("connection", "").lower() == "close"


def run(url: str, bodies: list[bytes], concurrency: int, seconds: float, warmup: float = 1.0) -> dict:
    """Each of `concurrency` connections sends its next body when the last answered.
    -> rps, p50 and p99 (ms), failures, and every latency (ms) for pooling runs."""
    parts = urlsplit(url)
    requests = [_request_bytes(parts.netloc, parts.path, b) for b in bodies]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency
    start = time.perf_counter() + warmup
    stop = start + seconds

    def connect() -> socket.socket:
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def worker(w: int) -> None:
        sock, buffer, i = connect(), bytearray(), w
        while (now := time.perf_counter()) < stop:
            sock.sendall(requests[i % len(requests)])
            status, closed = _read_response(sock, buffer)
            if closed:  # a server without keep-alive: the reconnect is part of its latency
                sock.close()
                sock, buffer = connect(), bytearray()
            if now >= start:
                latencies[w].append(time.perf_counter() - now)
                failures[w] += status != 200
            i += 1
        sock.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies, failures, seconds)


def summary(latencies: list[list[float]], failures: list[int], seconds: float) -> dict:
    """Per-worker latencies (s) and failures -> rps, p50 and p99 (ms), failures, every latency (ms)."""
    lat = np.concatenate([np.array(l) for l in latencies]) * 1000
    return {"rps": len(lat) / seconds, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "failures": sum(failures), "latencies": lat}
