import json

from serving import push


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
