"""The README's cross-host training instructions, followed on two "hosts": two network
namespaces joined by a veth pair (Debian's iproute2, `ip netns`, as root), one worker
in each, meeting over the veth addresses with exactly the variables the README names
(Keras: TF_CONFIG; PyTorch: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK and
GLOO_SOCKET_IFNAME), each running `python -m trainers.distributed FRAMEWORK
worker_args.json`, for a user's module of each framework (the two examples). The two
hosts train what one worker trains, within the tolerance of the local two-worker test."""
import json
import os
import shutil
import subprocess
import sys
import uuid
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import ROOT, TAXI_CSV, raw_rows
from tests.test_distributed_training import STEPS, TOLERANCE
from tests.test_trainers import fn_args

pytestmark = pytest.mark.e2e
ADDRESSES = ("10.231.7.1", "10.231.7.2")
PORT = 23456


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def hosts():
    """Two namespaces, "host" 0 and 1, with veth ends named after them (-> names)."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2 (`ip netns`) to make two network namespaces")
    tag = uuid.uuid4().hex[:6]
    names = [f"sluice-{tag}-{i}" for i in range(2)]
    links = [f"vs{tag}{i}" for i in range(2)]
    made = []
    try:
        for name in names:
            if _ip("netns", "add", name).returncode != 0:
                pytest.skip(f"cannot create network namespaces here: {_ip('netns', 'add', name).stderr}")
            made.append(name)
        assert _ip("link", "add", links[0], "type", "veth", "peer", "name", links[1]).returncode == 0
        for name, link, address in zip(names, links, ADDRESSES):
            for command in (["link", "set", link, "netns", name],
                            ["-n", name, "addr", "add", f"{address}/24", "dev", link],
                            ["-n", name, "link", "set", link, "up"],
                            ["-n", name, "link", "set", "lo", "up"]):
                done = _ip(*command)
                assert done.returncode == 0, (command, done.stderr)
        yield list(zip(names, links))
    finally:
        for name in made:
            _ip("netns", "del", name)


def rendezvous(framework: str, rank: int, link: str) -> dict[str, str]:
    """What the README tells each host to set."""
    if framework == "keras":
        cluster = {"worker": [f"{address}:{PORT}" for address in ADDRESSES]}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": rank}})}
    return {"MASTER_ADDR": ADDRESSES[0], "MASTER_PORT": str(PORT), "RANK": str(rank), "WORLD_SIZE": "2",
            "LOCAL_RANK": "0", "GLOO_SOCKET_IFNAME": link}


@pytest.mark.parametrize("framework, module", [("keras", "trainers.examples.wide_deep"),
                                               ("torch", "trainers.examples.tab_resnet")])
def test_one_worker_per_host_trains_what_one_worker_trains(hosts, upstream, tmp_path, framework, module):
    from serving.model_format.model import ServableModel
    from sluice_config.config import Candidate
    from trainers.data import read_history
    from trainers.distributed import ARGS_FILE, FN_ARGS
    from trainers.frameworks import adapter

    config, _, examples, graph = upstream
    hparams = {"blocks": 1, "units": [16], "dropout": 0.0}  # no dropout: the same masks on any host count
    config = config.replace(candidates=(Candidate("mine", framework, module, hparams),))
    one = fn_args(config, examples, graph, tmp_path / "one", "mine")
    one["train_steps"] = STEPS
    adapter(framework).run_fn(SimpleNamespace(**one))
    two = fn_args(config, examples, graph, tmp_path / "two", "mine")
    two["train_steps"] = STEPS
    run_dir = tmp_path / "two" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / ARGS_FILE).write_text(json.dumps({k: two[k] for k in FN_ARGS}))
    workers = []
    for rank, (namespace, link) in enumerate(hosts):
        env = {**os.environ, **rendezvous(framework, rank, link), "PYTHONPATH": str(ROOT)}
        log = open(run_dir / f"host-{rank}.log", "w")
        workers.append(subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-m", "trainers.distributed", framework,
             str(run_dir / ARGS_FILE)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    try:
        codes = [w.wait(timeout=600) for w in workers]
    finally:
        for w in workers:
            w.kill()
    logs = [(run_dir / f"host-{rank}.log").read_text()[-2000:] for rank in range(2)]
    assert codes == [0, 0], logs
    single, both = read_history(one["model_run_dir"]), read_history(two["model_run_dir"])
    assert (single["workers"], both["workers"]) == (1, 2)
    np.testing.assert_allclose(both["loss"], single["loss"], atol=TOLERANCE)
    rows = raw_rows(TAXI_CSV, 200, ServableModel(one["serving_model_dir"]).feature_names)
    np.testing.assert_allclose(ServableModel(two["serving_model_dir"]).predict(rows),
                               ServableModel(one["serving_model_dir"]).predict(rows), atol=TOLERANCE)
