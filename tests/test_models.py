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
    # Karpathy base network, 487 classes (Sports-1M), 7x7x256 before FC: convs 3,747,200 + fc6 (12544 -> 4096)
    # 51,384,320 + fc7 16,781,312 + fc8 1,995,239
    "single-frame": 73_908_071,
    "early-fusion": 73_908_071 + 11 * 11 * 3 * 9 * 96,  # conv1 sees 10 frames: 11x11x30 filters
    "late-fusion": 73_908_071 + 12544 * 4096,  # fc6 sees both towers: 25,088 inputs
    # conv1 4x11x11x3, conv2 2x5x5x96, conv3 2x3x3x256: temporal extents 4, 2, 2
    "slow-fusion": 73_908_071 + 3 * 11 * 11 * 3 * 96 + 5 * 5 * 96 * 256 + 3 * 3 * 256 * 384,
    # two towers (3,747,200 each) and fc6 on 2 x 7x7x256
    "multiresolution": 2 * 3_747_200 + 25088 * 4096 + 4096 + 16_781_312 + 1_995_239,
    # Ji et al.: C2 1,480 + S3 92 + C4 3,810 + S5 156 + C6 128 x (78 x 28 + 1) + output 128 x 3 + 3
    "ji-3dcnn": 1480 + 92 + 3810 + 156 + 128 * (78 * 28 + 1) + 387,
    # CNN-M-2048, 101 classes: conv1 14,208 + conv2 614,656 + conv3 1,180,160 + conv4, conv5 2,359,808 each
    # + full6 (18432 -> 4096) 75,501,568 + full7 8,390,656 + softmax 206,949
    "two-stream-spatial": 90_627_813,
    "two-stream-temporal": 90_627_813 + 7 * 7 * 17 * 96,  # conv1 on 2L = 20 flow channels instead of 3
    "two-stream": 90_627_813 + 90_627_813 + 7 * 7 * 17 * 96,
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
    shape = model_input(net)
    make = lambda s: rng.uniform(0, 1, (n, *s)).astype("float32")  # noqa: E731
    x = {k: make(v) for k, v in shape.items()} if isinstance(shape, dict) else make(shape)
    if info.task == "classification":
        return x, rng.integers(0, net.outputs[0].shape[-1], n)
    return x, None


@pytest.mark.parametrize("name", MODELS)
def test_tiny_trains_and_round_trips(name, tmp_path):
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
                               atol=1e-5)


@pytest.fixture(scope="module")
def reloaded(tmp_path_factory):
    """Every tiny model exported as a SavedModel and reloaded in ONE fresh process that imports only TensorFlow
    (one TensorFlow import for the whole sweep): name -> (max |difference| vs the Keras model, imported packages)."""
    root = tmp_path_factory.mktemp("exports")
    models = []
    for name in MODELS:
        keras.utils.set_random_seed(0)
        net, kind = zoo.build(name, "tiny"), zoo.model_info(name).input
        saved = str(root / name)
        assert export_saved_model(net, saved, kind, class_names=())
        models.append((net, saved, kind, ()))
    return dict(zip(MODELS, verify_in_fresh_process(models)))


@pytest.mark.parametrize("name", MODELS)
def test_saved_model_reloads_with_tensorflow_alone(name, reloaded):
    diff, modules = reloaded[name]
    assert diff < 1e-5 and modules == []
