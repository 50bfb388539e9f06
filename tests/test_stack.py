"""The pinned stack: all five packages import AND work together (issue 2, section 1)."""

import os
import re
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tuning.hypermodels

tfd = tfp.distributions


def test_versions_are_the_pinned_set(root):
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", open(os.path.join(root, "requirements.txt")).read(),
                           re.M))
    assert tf.__version__ == pins["tensorflow"] == "2.17.1"
    assert tfp.__version__ == pins["tensorflow-probability"] == "0.24.0"
    assert pins["tensorflow-io"] == "0.37.1"
    assert keras_tuner.__version__ == pins["keras-tuner"] == "1.4.8"
    assert keras.__version__ == pins["keras"] and keras.__version__.startswith("3.")
    assert np.__version__ == pins["numpy"] and int(np.__version__.split(".")[0]) < 2


def test_tensorflow_io_native_op_and_filesystems():
    # In a subprocess: tensorflow-io's S3 filesystem can abort the interpreter at exit (DESIGN.md pitfall).
    code = (
        "import tensorflow as tf, tensorflow_io as tfio, sys\n"
        "img = tf.cast(tf.reshape(tf.range(60) * 4, [4, 5, 3]), tf.uint8)\n"
        "bmp = tfio.image.encode_bmp(img)\n"  # IO_EncodeBmp: a native op of tensorflow-io
        "back = tf.io.decode_bmp(bmp)\n"
        "assert bool(tf.reduce_all(back == img)), 'BMP round trip differs'\n"
        "print(sorted(tf.io.gfile.get_registered_schemes()))\n"
        "sys.stdout.flush()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert "Traceback" not in proc.stderr, proc.stderr
    schemes = eval(proc.stdout.strip().splitlines()[-1])
    assert {"s3", "hdfs", "gs"} <= set(schemes)


def test_tfp_distribution_inside_a_keras_model_that_fits():
    """Heteroscedastic regression: the model's output parameterizes a tfd.Normal; fitting recovers the noise."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4000, 1)).astype("float32")
    y = (2 * x + rng.normal(0, 0.3, x.shape)).astype("float32")

    def nll(y_true, params):
        loc, raw_scale = params[:, :1], params[:, 1:]
        return -tfd.Normal(loc, tf.nn.softplus(raw_scale) + 1e-3).log_prob(y_true)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=nll)
    history = model.fit(x, y, epochs=15, batch_size=100, verbose=0)
    params = model.predict(np.array([[0.5]], "float32"), verbose=0)
    assert abs(params[0, 0] - 1.0) < 0.1
    assert abs(np.log1p(np.exp(params[0, 1])) + 1e-3 - 0.3) < 0.05
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.5


@pytest.mark.bench  # in `make bench`: tests/test_tuning.py runs 2-trial searches in `make test`
def test_keras_tuner_search_of_two_trials(tmp_path):
    tuner = tuning.hypermodels.search("vae", "mnist", max_trials=2, epochs=1, batch_size=200,
                                      space={"hidden": [32, 64]}, directory=str(tmp_path))
    trials = tuner.oracle.trials.values()
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    best = tuner.oracle.get_best_trials(1)[0]
    assert np.isfinite(best.score) and best.score < 543.0  # an untrained Bernoulli decoder: 784 * ln 2 nats
    assert tuner.get_best_models(1)[0].latent_dim == 2
