import json

import pytest

from serving.model_format import push_target as push

pytestmark = pytest.mark.unit


def test_push_is_versioned_atomic_and_deduplicated(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"x" * 10)
    serving = tmp_path / "serving"
    (serving / "m" / ".staging-9-abc").mkdir(parents=True)  # an interrupted push
    assert push.versions(serving, "m") == []
    assert push.push(model, serving, "m", {"model_uri": "a"}) == 1
    assert push.push(model, serving, "m", {"model_uri": "b"}) == 2
    assert push.versions(serving, "m") == [1, 2]
    assert push.current_version(serving, "m").name == "2"
    assert push.find_pushed(serving, "m", "a") == 1
    assert push.find_pushed(serving, "m", "zzz") is None
    record = json.loads((serving / "m" / "2" / push.PUSH_MARKER).read_text())
    assert record == {"model_uri": "b", "version": 2}
    assert (serving / "m" / "1" / "saved_model.pb").read_bytes() == b"x" * 10


def test_rolled_back_models_are_found_and_the_state_digest_sees_rollbacks(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    serving = tmp_path / "serving"
    for uri in ("a", "b"):
        push.push(model, serving, "m", {"model_uri": uri})
    before = push.state_digest(serving, "m")
    push.roll_back(serving, "m", 1)
    assert push.find_pushed(serving, "m", "b") is None
    assert push.find_rolled_back(serving, "m", "b") == 2
    assert push.find_rolled_back(serving, "m", "a") is None
    assert push.state_digest(serving, "m") != before


def test_push_lock_serializes_processes_and_dies_with_its_holder(tmp_path):
    import subprocess
    import sys
    import time

    serving = tmp_path / "serving"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from serving.model_format import push_target as push\n"
        f"with push.push_lock({str(serving)!r}, 'm'):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    waiter = subprocess.Popen([sys.executable, "-c", (
        "from serving.model_format import push_target as push\n"
        f"with push.push_lock({str(serving)!r}, 'm'):\n    print('got it')")],
        stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiter.poll() is None  # blocked while the holder lives
    holder.kill()  # a killed holder leaves no lock behind
    assert waiter.communicate(timeout=30)[0].strip() == "got it"
