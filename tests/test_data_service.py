"""tf.data service on loopback: `zoo data serve` runs the dispatcher and a worker, the clip pipeline sent there
delivers the same batches as run locally, and `run.train(..., data_service=...)` trains from it."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import zoo
from pipelines import datasets, service
from zoo.training import data as zdata
from zoo.training import run


@pytest.fixture(scope="module")
def server(root):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "data", "serve", "--port", str(port), "--workers", "1"],
                            env={**os.environ, "PYTHONPATH": root}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    line = ""
    for line in proc.stdout:
        if line.startswith("zoo: tf.data service at"):
            break
    assert line.startswith("zoo: tf.data service at"), line
    yield f"grpc://localhost:{port}"
    proc.terminate()
    assert proc.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def data():
    return datasets.video_dir("digit-actions", progress=False, train=4, val=1, test=1)


def test_the_service_delivers_the_local_pipelines_batches(server, data):
    info = zoo.model_info("c3d")
    net = zoo.build("c3d", "tiny", num_classes=10)
    local = zdata.dataset(info, net, data, "train", 8, training=True, seed=0)
    remote = service.distribute(zdata.dataset(info, net, data, "train", 8, training=True, seed=0), server)
    pairs = list(zip(local.take(3), remote.take(3)))
    assert len(pairs) == 3
    for (x, y), (rx, ry) in pairs:
        np.testing.assert_array_equal(x.numpy(), rx.numpy())
        np.testing.assert_array_equal(y.numpy(), ry.numpy())


def test_training_reads_from_the_service(server, data, tmp_path):
    run_dir = run.train("c3d", data, epochs=2, batch_size=8, data_service=server, run_dir=str(tmp_path / "r"),
                        verbose=0)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["data_service"] == server
    epochs = open(os.path.join(run_dir, "history.csv")).read().splitlines()[1:]
    assert [int(e.split(",")[0]) for e in epochs] == [0, 1]
