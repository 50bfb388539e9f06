"""One sweep over every registered model (the timm pattern): a model is covered the moment it is registered."""

import os

import keras
import numpy as np
import pytest

import zoo
from zoo.training.data import model_input
from zoo.training.export import export_saved_model, verify_in_fresh_process
from zoo.training.run import _compile

MODELS = zoo.list_models()

# Parameter counts of the paper presets, derived by hand from the papers (see each model's docstring).
PAPER_PARAMETERS = {
    # C3D, 101 classes: convs 27,655,936 + fc6 (8192 -> 4096) 33,558,528 + fc7 16,781,312 + fc8 413,797
    "c3d": 78_409_573,
    # Karpathy base network, 487 classes (Sports-1M): convs 3,747,200 + fc6 (9216 -> 4096) 37,752,832
    # + fc7 16,781,312 + fc8 1,995,239
    "single-frame": 60_276_583,
    # VAE, 784-500-20: encoder 392,500 + 2 x 10,020; decoder 10,500 + 392,784
    "vae": 815_824,
}


def test_every_model_has_a_paper_count():
    assert set(PAPER_PARAMETERS) == set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_presets_build(name):
    paper = zoo.build(name, "paper")
    assert paper.count_params() == PAPER_PARAMETERS[name]
    tiny = zoo.build(name, "tiny")
    assert tiny.count_params() < paper.count_params()
    # the model's file names its paper (first author) in its docstring
    info = zoo.model_info(name)
    module = __import__(info.builder.__module__, fromlist=["_"])
    assert info.paper.split()[0] in module.__doc__


def _batch(net, info, n=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, *model_input(net))).astype("float32")
    if info.task == "classification":
        return x, rng.integers(0, net.outputs[0].shape[-1], n)
    return x, None


@pytest.mark.parametrize("name", MODELS)
def test_tiny_trains_round_trips_and_exports(name, tmp_path):
    info = zoo.model_info(name)
    keras.utils.set_random_seed(0)
    net = zoo.build(name, "tiny")
    _compile(net, info, 1e-3, jit=False)
    x, y = _batch(net, info)

    # forward and backward: one optimizer step moves every trainable weight and the loss is finite
    before = [np.array(w) for w in net.trainable_weights]
    logs = net.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    moved = [not np.array_equal(b, np.array(w)) for b, w in zip(before, net.trainable_weights)]
    assert all(moved), [w.path for w, m in zip(net.trainable_weights, moved) if not m]

    # .keras round trip with safe_mode: same outputs
    path = os.path.join(tmp_path, "m.keras")
    net.save(path)
    back = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(back(x, training=False)), np.asarray(net(x, training=False)),
                               atol=1e-6)

    # SavedModel: reloaded in a fresh process importing only TensorFlow, same outputs as the Keras model
    saved = os.path.join(tmp_path, "export")
    signatures = export_saved_model(net, saved, info.input, class_names=())
    assert signatures
    diff, modules = verify_in_fresh_process(net, saved, info.input)
    assert diff < 1e-5 and modules == []
