"""One training step on two replicas (MirroredStrategy over two logical CPU devices) gives the same weights as one
step on one device at the same global batch, for every family: Keras' own train_step (classifiers, two-stream) and
the hand-written ones (VAE, autoencoder, RBM, GAN, DCGAN, LAPGAN). That checks the loss scaling by the number of
replicas, the gradient aggregation, and synchronized batch normalization.

The noise of the custom steps is drawn per replica (`zoo.distribute`), so no two runs draw the same; the test makes
it deterministic (normal -> 0, uniform -> 0.5) in both runs. Dropout is switched off for the same reason."""

import json
import os
import subprocess
import sys

import pytest

MODELS = {  # name -> overrides
    "c3d": {"dropout": 0.0}, "two-stream": {"dropout": 0.0, "spatial_dropout": 0.0}, "vae": {}, "autoencoder-conv": {}, "rbm": {},
    "gan": {"d_input_dropout": 0.0, "d_dropout": 0.0}, "dcgan": {}, "lapgan": {"d_dropout": 0.0},
}

SCRIPT = """
import json, sys, traceback
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import zoo
from zoo import distribute
from zoo.training.data import model_input
from zoo.training.strategy import get_strategy

distribute.replica_normal = lambda shape, seed_generator, dtype="float32": tf.zeros(shape, dtype)
distribute.replica_uniform = lambda shape, seed_generator, dtype="float32": tf.fill(shape, tf.constant(0.5, dtype))


def run(name, overrides):
    info = zoo.model_info(name)

    def build():
        keras.utils.set_random_seed(0)
        return zoo.build(name, "tiny", **overrides)

    rng = np.random.default_rng(0)
    probe = build()
    shape = model_input(probe)
    make = lambda s: rng.uniform(0, 1, (8, *s)).astype("float32")
    x = {k: make(v) for k, v in shape.items()} if isinstance(shape, dict) else make(shape)
    y = rng.integers(0, probe.outputs[0].shape[-1], 8) if info.task == "classification" else None
    start = [np.array(w) for w in probe.weights]
    data = tf.data.Dataset.from_tensors((x, y) if y is not None else x)

    def step(strategy):
        with strategy.scope():
            net = build()
            net.set_weights(start)
            # plain SGD: Adam's first step divides by |g|, so a gradient that is ~0 up to the order of a sum
            # (one device vs two replicas) could move a weight by a whole learning rate either way
            if info.task == "classification":
                net.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
            else:
                net.compile(optimizer=keras.optimizers.SGD(0.1))
        net.fit(data, epochs=1, verbose=0, shuffle=False)
        return net

    one, two = step(tf.distribute.get_strategy()), step(get_strategy("mirrored"))
    assert two.distribute_strategy.num_replicas_in_sync == 2
    moved = max(float(np.max(np.abs(np.array(a) - b))) for a, b in zip(one.weights, start))
    diff = max(float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in zip(one.weights, two.weights))
    keras.backend.clear_session()
    return {"moved": moved, "diff": diff}


def result(name, overrides):  # one model's failure is its own test's failure, with its traceback
    try:
        return run(name, overrides)
    except Exception:
        return {"error": traceback.format_exc()[-3000:]}


print(json.dumps({name: result(name, overrides) for name, overrides in json.loads(sys.argv[1]).items()}))
"""


@pytest.fixture(scope="module")
def steps(root):
    """Every model's step on one device and on two replicas, all in ONE process (the two logical devices must be
    set before TensorFlow starts; one TensorFlow import for the sweep): name -> {"moved", "diff"}."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(MODELS)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": root}, cwd=root, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_replicas_equal_one_device(name, steps):
    result = steps[name]
    assert "error" not in result, result.get("error")
    assert result["moved"] > 1e-4  # the step did something
    assert result["diff"] < 1e-5 * max(1.0, result["moved"] * 100), result
