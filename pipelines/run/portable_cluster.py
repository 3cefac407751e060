"""The Beam arguments that send every data step (and `sluice predict`) to a portable
cluster, and the check that the cluster is there before any Beam pipeline starts.

A portable cluster is a Beam job server (Beam's own job service, or Flink's or Spark's
job server, all speaking Beam's Job API) and SDK workers for Python (here an EXTERNAL
worker pool, the pattern for Flink on Kubernetes: one pool beside each TaskManager, at
the same address on every host). `scripts/beam_cluster.sh up` starts one on this machine.

Without the check, a wrong address is found by the first Beam pipeline: after ExampleGen's
pre-flight, with a gRPC error (or a wait of a minute). The check asks both services for a
connection with a timeout of seconds, and names the address and how to start the local
cluster (exit 2, as for a bad config).
"""
from __future__ import annotations

import ipaddress
import socket

from sluice_config.errors import ConfigError

RUNNER = "--runner=PortableRunner"
JOB_ENDPOINT = "--job_endpoint="
ENVIRONMENT_CONFIG = "--environment_config="
DEFAULT_WORKER_POOL = "localhost:50000"
CONNECT_SECONDS = 5.0
START_HINT = "start the local cluster with: bash scripts/beam_cluster.sh up"


def beam_args(job_endpoint: str, worker_pool: str = DEFAULT_WORKER_POOL) -> tuple[str, ...]:
    """Every data step on the job server, its Python code in the worker pool."""
    return (RUNNER, f"{JOB_ENDPOINT}{job_endpoint}", "--environment_type=EXTERNAL",
            f"{ENVIRONMENT_CONFIG}{worker_pool}")


def _host_port(address: str, what: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{what} {address!r} is not HOST:PORT (e.g. localhost:8099)")
    return host.strip("[]"), int(port)


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(address: str, what: str) -> None:
    host, port = _host_port(address, what)
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        hint = f"; {START_HINT}" if _is_local(host) else ""
        raise ConfigError(f"no {what} answers at {address} ({err.strerror or err}){hint}") from None


def check(args) -> None:
    """Where the Beam arguments name a job endpoint: it must accept a connection, and so
    must the worker pool where it is on this machine as well (a pool on each remote host
    is reached by that host's TaskManager, not from here). Raises ConfigError."""
    if not any(a.startswith("--job_endpoint") for a in args):
        return  # no endpoint named (Beam takes no abbreviation): no Beam import, ~1.4 s a run
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

    options = PipelineOptions(flags=list(args)).view_as(PortableOptions)  # Beam reads them so
    endpoint, pool = options.job_endpoint, options.environment_config
    if endpoint is None:
        return
    _connect(endpoint, "Beam job server")
    if pool and (options.environment_type or "").upper() == "EXTERNAL" and \
            _is_local(_host_port(endpoint, "job endpoint")[0]) and _is_local(_host_port(pool, "worker pool")[0]):
        _connect(pool, "Beam worker pool")


def add_arguments(parser) -> None:
    """--runner portable and its addresses (run, predict, compile)."""
    parser.add_argument("--runner", choices=("local", "portable"), default="local",
                        help="where the data steps run: local (Beam's FnApiRunner in this "
                             "process, default) or portable (a Beam job server, e.g. "
                             "scripts/beam_cluster.sh up)")
    parser.add_argument("--job-endpoint", metavar="HOST:PORT",
                        help="portable: the Beam job server (the local cluster: localhost:8099)")
    parser.add_argument("--worker-pool", default=DEFAULT_WORKER_POOL, metavar="HOST:PORT",
                        help=f"portable: the Python worker pool, as the job server's workers "
                             f"reach it (default: {DEFAULT_WORKER_POOL})")


def from_arguments(args) -> tuple[str, ...]:
    """The command's Beam arguments: --runner portable's, then the user's --beam-arg."""
    given = tuple(args.beam_arg)
    if args.runner != "portable":
        if args.job_endpoint:
            raise ConfigError("--job-endpoint is for --runner portable")
        return given
    if not args.job_endpoint:
        raise ConfigError(f"--runner portable needs --job-endpoint HOST:PORT ({START_HINT}, "
                          "then --job-endpoint localhost:8099)")
    if any(a.startswith("--runner") for a in given):
        raise ConfigError("--runner portable and --beam-arg=--runner=... both name a runner; keep one")
    return (*beam_args(args.job_endpoint, args.worker_pool), *given)
