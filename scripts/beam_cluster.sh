#!/usr/bin/env bash
# A Beam portable cluster on this machine, for tests and for trying sluice's data steps
# off the in-process runner: Beam's job service (the Job API a Flink or Spark job server
# also speaks) and a pool of Python SDK workers from sluice's venv, started as the
# EXTERNAL environment in a folder of their own, with no PYTHONPATH and no checkout on
# their path: the user's code reaches them with the job (components/executors/user_code.py),
# as it must reach a worker on another host.
#
#   bash scripts/beam_cluster.sh up [--dir DIR] [--job-port N] [--worker-port N]
#   bash scripts/beam_cluster.sh status|down [--dir DIR]
#   sluice run --runner portable --job-endpoint localhost:8099      # (--worker-pool localhost:50000)
#
# `up` starts both and waits until they answer; `down` stops exactly what `up` started
# (by the PIDs in DIR, each with the worker processes it started); `status` exits 0 when
# both run, 3 otherwise.
#
# Flink: Beam 2.74's Flink job server (beam-runners-flink-<1.17..2.0>-job-server) is not
# served by the Maven repository this machine reaches (404 for every version), so this
# cluster is Beam's own job service; docs/beyond-one-machine.md says what changes for Flink.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${SLUICE_VENV:-$ROOT/.venv}"
DIR="${SLUICE_CLUSTER_DIR:-$HOME/.cache/sluice/beam-cluster}"
JOB_PORT=8099
WORKER_PORT=50000
WAIT_SECONDS=60

command="${1:-}"
shift || true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --job-port) JOB_PORT="$2"; shift 2 ;;
    --worker-port) WORKER_PORT="$2"; shift 2 ;;
    *) echo "beam_cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

listening() {  # host port: true once something accepts a connection there
  "$VENV/bin/python" - "$1" "$2" <<'EOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
EOF
}

start() {  # name port command...: in its own session (its workers join its group), in DIR/name
  local name="$1" port="$2"; shift 2
  if alive "$name"; then echo "$name: already running (pid $(cat "$DIR/$name.pid"))"; return; fi
  if listening 127.0.0.1 "$port"; then
    echo "beam_cluster.sh: port $port is taken by another process; pick another (--job-port/--worker-port)" >&2
    exit 1
  fi
  mkdir -p "$DIR/$name"
  # a clean environment: what every worker host has (sluice's venv), nothing of this shell
  (cd "$DIR/$name" && exec env -i HOME="$HOME" LANG=C.UTF-8 PATH="$VENV/bin:/usr/bin:/bin" \
      TF_USE_LEGACY_KERAS=1 MLFLOW_DISABLE_TELEMETRY=true TF_CPP_MIN_LOG_LEVEL=1 \
      setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null) &
  echo $! >"$DIR/$name.pid"
  echo "$port" >"$DIR/$name.port"
}

wait_for() {  # name port
  local waited=0
  until listening 127.0.0.1 "$2"; do
    if ! alive "$1"; then echo "beam_cluster.sh: $1 exited; its log:" >&2; tail -20 "$DIR/$1.log" >&2; exit 1; fi
    if (( waited >= WAIT_SECONDS )); then echo "beam_cluster.sh: $1 not listening on $2 after ${WAIT_SECONDS}s" >&2; exit 1; fi
    sleep 1; waited=$((waited + 1))
  done
}

stop() {  # name: the process group it leads (it and the workers it started)
  if alive "$1"; then
    local pid; pid="$(cat "$DIR/$1.pid")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "$1: stopped (pid $pid)"
  else
    echo "$1: not running"
  fi
  rm -f "$DIR/$1.pid" "$DIR/$1.port"
}

case "$command" in
  up)
    [[ -x "$VENV/bin/python" ]] || { echo "beam_cluster.sh: no venv at $VENV (run: make venv)" >&2; exit 2; }
    mkdir -p "$DIR"
    start workers "$WORKER_PORT" python -m apache_beam.runners.worker.worker_pool_main \
      --service_port "$WORKER_PORT"
    start job_service "$JOB_PORT" python -m pipelines.run.job_service \
      --port "$JOB_PORT" --staging_dir "$DIR/job_service/staging"
    wait_for workers "$WORKER_PORT"
    wait_for job_service "$JOB_PORT"
    echo "up: job service localhost:$JOB_PORT, worker pool localhost:$WORKER_PORT (logs in $DIR)"
    echo "    sluice run --runner portable --job-endpoint localhost:$JOB_PORT --worker-pool localhost:$WORKER_PORT"
    ;;
  down)
    stop job_service
    stop workers
    ;;
  status)
    code=0
    for name in job_service workers; do
      if alive "$name"; then echo "$name: running (pid $(cat "$DIR/$name.pid"), port $(cat "$DIR/$name.port"))"
      else echo "$name: stopped"; code=3; fi
    done
    exit $code
    ;;
  *)
    echo "usage: bash scripts/beam_cluster.sh up|down|status [--dir DIR] [--job-port N] [--worker-port N]" >&2
    exit 2
    ;;
esac
