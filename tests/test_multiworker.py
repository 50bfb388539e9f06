"""`zoo train --strategy multiworker`: two worker processes on loopback (TF_CONFIG), TensorFlow's
MultiWorkerMirroredStrategy, train to the end and hold the same weights; the chief writes the run, the other worker
its own copy under RUN/workers/."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np

from pipelines import datasets


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_train_to_the_same_weights(tmp_path, root):
    data = datasets.video_dir("digit-actions", progress=False, train=4, val=1, test=1)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "zoo", "train", "c3d", "--data", data, "--epochs", "2", "--batch-size", "8",
           "--strategy", "multiworker", "--run-dir", str(run_dir), "--verbose", "0"]
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "PYTHONPATH": root}
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    config = json.load(open(run_dir / "config.json"))
    assert config["strategy"] == "MultiWorkerMirroredStrategy" and config["replicas"] == 2
    chief = keras.saving.load_model(str(run_dir / "model.keras"))
    other = keras.saving.load_model(str(run_dir / "workers" / "worker-1" / "model.keras"))
    moved = max(float(np.abs(np.asarray(w)).max()) for w in chief.weights)
    diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(chief.weights, other.weights))
    print(f"\ntwo workers: max |weight| {moved:.3f}, max |difference| between the workers {diff:.2e}")
    assert diff < 1e-6
    steps = [int(line.split(",")[0]) for line in open(run_dir / "history.csv").read().splitlines()[1:]]
    assert steps == [0, 1]  # both epochs logged by the chief
