"""The model server's request log: what it writes, how files rotate and survive a
crash (unit), and 10,000 requests at concurrency 8 through a real server, every
answered one in the log after a clean shutdown and the files read by TFDV (e2e)."""
import csv
import http.client
import json
import threading
import time
import urllib.request
from types import SimpleNamespace

import grpc
import numpy as np
import pytest

from serving.model_format.layout import FeatureLayout, ModelInput
from serving.server.request_log import FLUSH_SECONDS, RequestLog

LAYOUT = FeatureLayout("keras", "binary", ("no", "yes"), (ModelInput("miles_xf", "float32"),),
                       {"miles": "number", "company": "string"})
LOADED = SimpleNamespace(name="taxi", version=3, model=SimpleNamespace(layout=LAYOUT))


def logged_rows(folder):
    rows = []
    for path in sorted(folder.glob("taxi/*.csv")):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


@pytest.mark.unit
def test_rows_rotation_and_a_clean_stop(tmp_path):
    log = RequestLog(tmp_path, file_bytes=600)
    log.start()
    for i in range(40):
        log.offer(LOADED, {"miles": [float(i), None], "company": ["A, Inc.", ""]},
                  np.array([[0.25, 0.75], [0.9, 0.1]], np.float32))
        if i % 10 == 9:  # the size is checked per flush: four flushes, each past 600 bytes
            time.sleep(FLUSH_SECONDS * 2)
    log.stop()
    files = sorted(tmp_path.glob("taxi/*"))
    assert len(files) > 3 and all(f.suffix == ".csv" for f in files)  # rotated, none left partial
    rows = logged_rows(tmp_path)
    assert len(rows) == 80
    assert rows[0]["miles"] == "0.0" and rows[0]["company"] == "A, Inc." and rows[0]["prediction"] == "yes"
    assert rows[1]["miles"] == "" and rows[1]["prediction"] == "no" and float(rows[1]["p_no"]) == pytest.approx(0.9)
    assert {r["model"] for r in rows} == {"taxi"} and {r["version"] for r in rows} == {"3"}
    assert rows[0]["time"].endswith("Z")


@pytest.mark.unit
def test_files_rotate_by_age_and_a_live_part_file_is_read_to_its_last_whole_line(tmp_path):
    """A quiet server completes a file after --request-log-rotate; monitor reads the one
    being written up to its last whole line, and names what it skipped."""
    import time

    from components.executors.preflight import DataError
    from pipelines.jobs import served_rows

    log = RequestLog(tmp_path, rotate_seconds=0.2)
    log.start()
    answers = np.array([[0.25, 0.75]], np.float32)
    log.offer(LOADED, {"miles": [1.0], "company": ["A"]}, answers)
    time.sleep(0.5)
    log.offer(LOADED, {"miles": [2.0], "company": ["B"]}, answers)  # the first file is old: completed
    deadline = time.time() + 10
    while len(list(tmp_path.glob("taxi/*.csv"))) < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert len(list(tmp_path.glob("taxi/*.csv"))) == 1 and len(list(tmp_path.glob("taxi/*.part"))) == 1
    part = next(tmp_path.glob("taxi/*.part"))
    while part.stat().st_size < 60 and time.time() < deadline:
        time.sleep(0.05)
    with open(part, "ab") as handle:  # a row being written as monitor reads
        handle.write(b"3.0,C,ye")
    frame, _, found = served_rows.load(str(tmp_path), "taxi", LAYOUT.raw_features, None)
    assert sorted(frame["miles"]) == [1.0, 2.0] and part in found
    log.stop()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "requests.json").write_text("{}")
    with pytest.raises(DataError, match=r"no CSV files of served rows found; skipped \(not \.csv or "
                                        r"\.csv\.part\): .*requests\.json"):
        served_rows.files(str(tmp_path / "other"), "taxi")


@pytest.mark.unit
def test_a_crash_loses_at_most_the_unflushed_rows(tmp_path):
    folder = tmp_path / "taxi"
    folder.mkdir()
    header = "miles,company,prediction,p_no,p_yes,model,version,time\n"
    (folder / "requests-1.csv.part").write_text(header + "1.0,A,yes,0.2,0.8,taxi,3,t\n2.0,B,n")
    (folder / "requests-2.csv.part").write_text(header)
    log = RequestLog(tmp_path)
    log.start()
    log.stop()
    assert sorted(p.name for p in folder.iterdir()) == ["requests-1.csv"]
    assert (folder / "requests-1.csv").read_text() == header + "1.0,A,yes,0.2,0.8,taxi,3,t\n"


@pytest.mark.unit
def test_a_full_queue_drops_samples_and_counts_them(tmp_path):
    dropped = []
    log = RequestLog(tmp_path, queue_requests=2, on_drop=lambda: dropped.append(1))
    for _ in range(5):  # not started: nothing takes from the queue
        log.offer(LOADED, {"miles": [1.0], "company": ["A"]}, np.array([[0.5, 0.5]]))
    assert len(dropped) == 3
    with pytest.raises(ValueError, match="sample-rate"):
        RequestLog(tmp_path, sample_rate=0)


@pytest.mark.e2e
def test_every_answered_request_is_logged_and_tfdv_reads_the_log(first_run, tmp_path):
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from serving.model_format import push_target
    from serving.model_format.model import ServableModel
    from serving.server.process import ServerProcess
    from tests.test_serving import trained_model_dir

    home, result = first_run
    assert result.returncode == 0
    model_dir = trained_model_dir(home, "keras")
    push_target.push(model_dir, tmp_path / "serving", "taxi", {"model_uri": str(model_dir)})
    layout = ServableModel(model_dir).layout
    row = {n: ("Cash" if kind == "string" else 1.0) for n, kind in layout.raw_features.items()}
    log_dir = tmp_path / "log"
    requests, per_client = 10_000, 1250
    answered, failed = [], []
    server = ServerProcess(tmp_path / "serving", "--request-log", str(log_dir))
    try:
        server.wait_ready({"taxi": 1})

        def client(k):
            rest = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.grpc_target))
            for i in range(k * per_client, (k + 1) * per_client):
                instance = {**row, "trip_seconds": float(i)}  # each request's own value
                try:
                    if i % 2:
                        rest.request("POST", "/v1/models/taxi:predict", json.dumps({"instances": [instance]}),
                                     {"Content-Type": "application/json"})
                        response = rest.getresponse()
                        response.read()
                        ok = response.status == 200
                    else:
                        request = predict_pb2.PredictRequest()
                        request.model_spec.name = "taxi"
                        for n, v in instance.items():
                            request.inputs[n].CopyFrom(tf.make_tensor_proto([v]))
                        stub.Predict(request, timeout=60)
                        ok = True
                except grpc.RpcError:
                    ok = False
                (answered if ok else failed).append(i)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        metrics = urllib.request.urlopen(server.url + "/metrics").read().decode()
    finally:
        server.stop()  # SIGTERM: a clean shutdown
    assert failed == [] and len(answered) == requests
    assert "sluice_request_log_dropped_total 0.0" in metrics
    rows = []
    for path in sorted(log_dir.glob("taxi/*.csv")):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    assert sorted(int(float(r["trip_seconds"])) for r in rows) == list(range(requests))
    assert {r["model"] for r in rows} == {"taxi"} and {r["prediction"] for r in rows} <= {"0", "1"}
    assert not list(log_dir.rglob("*.part"))
    stats = tfdv.generate_statistics_from_csv(str(log_dir / "taxi" / "*.csv"))
    assert stats.datasets[0].num_examples == requests
