"""`--strategy mirrored` on two logical CPU devices: the path trains and evaluates every task."""

import json
import os
import subprocess
import sys

import pytest

CODE = """
import json, sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from zoo.training import run
out = {}
for model, data, epochs, batch in (("vae", "mnist", 3, 100), ("c3d", "digit-actions", 1, 16)):
    d = run.train(model, data, epochs=epochs, batch_size=batch, strategy="mirrored", verbose=0,
                  run_dir=sys.argv[1] + "/" + model)
    out[model] = {"config": json.load(open(d + "/config.json")), "metrics": run.evaluate(d)}
print(json.dumps(out, default=str))
"""


@pytest.mark.bench  # a whole run under MirroredStrategy (35 s): in `make bench`; tests/test_mirrored.py in `make test`
def test_mirrored_on_two_logical_cpus(tmp_path, root):
    proc = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": root}, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for model in ("vae", "c3d"):
        assert out[model]["config"]["strategy"] == "MirroredStrategy" and out[model]["config"]["replicas"] == 2
    assert -230 < out["vae"]["metrics"]["elbo"] < -150  # trained with the per-replica loss scaling
    assert out["c3d"]["metrics"]["videos"] == 300
