"""A run and a batch prediction make no network connection the user did not configure:
no download of Beam's Prism runner (sluice names its runner), no MLflow usage report
(sluice turns it off unless the user turns it on). Proven with every proxy variable
pointed at a socket that only records who connected: anything that would go out
through HTTP(S) arrives there. Loopback (the model server infra validation starts) is
the user's own machine and stays direct. The record names the runner."""
import os
import socket
import threading

import pytest

from tests.conftest import run_sluice

pytestmark = pytest.mark.e2e
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class RecordingProxy:
    """A listening socket that accepts, keeps the first line (e.g. CONNECT github.com:443)
    and closes."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.seen.append(connection.recv(4096).split(b"\r\n")[0].decode(errors="replace"))
                except OSError as err:
                    self.seen.append(f"(connected: {err})")

    def close(self):
        self.server.close()


def test_a_run_and_a_prediction_call_nothing_out(tmp_path, taxi_sample, monkeypatch):
    proxy = RecordingProxy()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):  # sluice must turn it off itself
        monkeypatch.delenv(name, raising=False)
    try:
        run = run_sluice("run", "--home", tmp_path / "home", "--data", taxi_sample, "--trainer", "keras",
                         "--steps", 30)
        assert run.returncode == 0, run.stderr[-3000:]
        scored = run_sluice("predict", "--home", tmp_path / "home", "--data", taxi_sample,
                            "-o", tmp_path / "scored.csv")
        assert scored.returncode == 0, scored.stderr[-3000:]
    finally:
        proxy.close()
    assert proxy.seen == [], proxy.seen
    assert "Prism" not in run.stderr + scored.stderr
    assert os.path.getsize(tmp_path / "scored.csv") > 0
    # and the record names the runner every data step and the prediction ran on
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = next(r for r in runs if r.data.tags.get("sluice.orchestrator") == "local")
    assert "--runner=FnApiRunner" in parent.data.tags["sluice.beam_args"]
    prediction = next(r for r in runs if "beam_args" in r.data.params)
    assert "--runner=FnApiRunner" in prediction.data.params["beam_args"]
