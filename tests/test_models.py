"""One sweep over every registered model (the timm pattern): a model is covered the moment it is registered."""

import os
import time

import keras
import numpy as np
import pytest

import zoo
from zoo.training import run
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
    # Ballas et al. GRU-RCN, 101 classes: VGG-16 without its 1000-way layer (convs 14,714,688 + fc6 25088 x 4096 +
    # 4096 + fc7 16,781,312 = 134,260,544); ConvGRU per level 3 x (k*k*C*F + k*k*F*F + F) = 27F(C + F) + 3F:
    # pool2 (C 128, F 64) 331,968, pool3 (256, 128) 1,327,488, pool4 and pool5 (512, 256) 5,309,184 each, fc-7
    # (4096, 512, 1x1 kernels) 3F(C + F) + 3F = 7,079,424 (19,357,248 in all); five classifiers
    # (64 + 128 + 256 + 256 + 512) x 101 + 5 x 101 = 123,321
    "gru-rcn": 134_260_544 + 19_357_248 + 123_321,
    # + the bottom-up kernels into z and r, 2F per level: 9 x 64 x 256 + 9 x 128 x 512 + 9 x 256 x 512 + 256 x 1024
    "gru-rcn-stacked": 134_260_544 + 19_357_248 + 123_321 + 147_456 + 589_824 + 1_179_648 + 262_144,
    # two directions per level; classifiers on 2F: 2 x 1216 x 101 + 505
    "gru-rcn-bidirectional": 134_260_544 + 2 * 19_357_248 + 2 * 1216 * 101 + 505,
    # four gates 36F(C + F) + 4F: 442,624 + 1,769,984 + 2 x 7,078,912 + (1x1) 4 x 512 x 4608 + 2048 = 25,809,664
    "convlstm-rcn": 134_260_544 + 25_809_664 + 123_321,
    # Donahue et al. LRCN-fc6, 101 classes: conv1 7x7x3x96 + 96 = 14,208, conv2 (2 groups) 5x5x48x384 + 384 =
    # 461,184, conv3 3x3x384x512 + 512 = 1,769,984, conv4 (2 groups) 3x3x256x512 + 512 = 1,180,160, conv5 (2 groups)
    # 3x3x256x384 + 384 = 885,120, fc6 (6x6x384 = 13,824 -> 4096) 56,627,200; LSTM 4 x (256 x (4096 + 256) + 256)
    # = 4,457,472; fc8 256 x 101 + 101 = 25,957
    "lrcn": 4_310_656 + 56_627_200 + 4_457_472 + 25_957,
    "lrcn-flow": 4_310_656 + 56_627_200 + 4_457_472 + 25_957,  # the same network on 3-channel flow images
    # Ng et al. on CaffeNet, 487 classes: convs 34,944 + 307,456 + 885,120 + 663,936 + 442,624 = 2,334,080, fc6
    # (9216 -> 4096) 37,752,832, fc7 16,781,312, softmax 4097 x 487 = 1,995,239
    "snippets-conv-pooling": 58_863_463,
    "snippets-late-pooling": 58_863_463,
    "snippets-slow-pooling": 58_863_463,  # fc6 shared by the windows: no more weights
    # the softmax sees (120 - 10) / 5 + 1 = 23 windows of 4096: 23 x 4096 x 487 + 487
    "snippets-local-pooling": 2_334_080 + 37_752_832 + 16_781_312 + 23 * 4096 * 487 + 487,
    # + the time-domain convolution 10x3x3x256x256 + 256
    "snippets-time-conv": 58_863_463 + 5_898_496,
    # convs and fc6, fc7 56,868,224; LSTM 4 x (512 x (4096 + 512) + 512) = 9,439,232, four more 4 x (512 x 1024 +
    # 512) = 2,099,200 each; softmax 512 x 487 + 487 = 249,831
    "snippets-lstm": 56_868_224 + 9_439_232 + 4 * 2_099_200 + 249_831,
    "snippets-conv-pooling-flow": 2 * 58_863_463,  # a second network of the same kind on flow images
    "snippets-lstm-flow": 2 * (56_868_224 + 9_439_232 + 4 * 2_099_200 + 249_831),
    # Baccouche et al., 6 classes: C1 7 x (7x7x5 + 1) = 1,722, C2 35 x (5x5x3 + 1) = 2,660 (one C1 map each),
    # C3 5 x (35 x 3x3x3 + 1) = 4,730, N1 120 x 50 + 50 = 6,050, N2 50 x 6 + 6 = 306
    "baccouche-3dcnn": 1722 + 2660 + 4730 + 6050 + 306,
    # the 3D ConvNet up to N1, LSTM 4 x (50 x (50 + 50) + 50) = 20,200, softmax 306
    "baccouche": 1722 + 2660 + 4730 + 6050 + 20_200 + 306,
    # VAE, 784-500-20: encoder 392,500 + 2 x 10,020; decoder 10,500 + 392,784
    "vae": 815_824,
    # Conv VAE, 28x28x1, 5x5 kernels: convs 832 + 51,264 + 204,928 + 819,456 (1,076,480) + mu and log-variance
    # heads 2 x (1024 x 20 + 20); decoder: projection 20 -> 2x2x256 21,504 + transposed convs 819,328 + 204,864
    # + 51,232 + 801 (1,076,225)
    "vae-conv": 1_076_480 + 2 * 20_500 + 21_504 + 1_076_225,
    # One hidden layer, 784-500-784: encoder 784 x 500 + 500, decoder 500 x 784 + 784
    "autoencoder-linear": 392_500 + 392_784,
    # The same with W' = W^T: one kernel, two biases
    "autoencoder-tied": 784 * 500 + 500 + 784,
    # Hinton & Salakhutdinov, 784-1000-500-250-30: encoder 785,000 + 500,500 + 125,250 + 7,530; decoder
    # 30-250-500-1000-784: 7,750 + 125,500 + 501,000 + 784,784
    "autoencoder-deep": 1_418_280 + 1_419_034,
    # Conv autoencoder: the conv VAE's convs and transposed convs with a 30-unit code: code 1024 x 30 + 30,
    # projection 30 x 1024 + 1024
    "autoencoder-conv": 1_076_480 + 30_750 + 31_744 + 1_076_225,
    # RBM 784-1000: weights 784,000 + visible biases 784 + hidden biases 1,000
    "rbm": 785_784,
    # Goodfellow et al. GAN, MNIST nets of the released code: G 100-1200-1200-784 (121,200 + 1,441,200 + 941,584);
    # D maxout 784 -> 240x5 pieces (784 x 1200 + 1200 = 942,000) -> 240x5 (240 x 1200 + 1200 = 289,200) -> 1 (241)
    "gan": 2_503_984 + 1_231_441,
    # Radford et al. DCGAN, Fig. 1, 5x5 kernels, biases only where no batch norm follows (counts include BN's
    # moving mean and variance: 4 values per unit): G project 100 x 16384 + BN 4 x 16384, upconvs 25 x (1024 x 512
    # + 512 x 256 + 256 x 128 + 128 x 3) = 17,212,800 + BN 4 x (512 + 256 + 128) + output bias 3; D convs 25 x
    # (3 x 128 + 128 x 256 + 256 x 512 + 512 x 1024) = 17,212,800 + conv1 bias 128 + BN 4 x (256 + 512 + 1024),
    # output 4x4x1024 -> 1 (16,385)
    "dcgan": 1_638_400 + 65_536 + 17_212_800 + 3_584 + 3 + 17_212_800 + 128 + 7_168 + 16_385,
    # Denton et al. LAPGAN, CIFAR-10 8 -> 16 -> 32: G_8 100-1200-1200-192 (121,200 + 1,441,200 + 230,592), D_8
    # 192-600-600-1 (115,800 + 360,600 + 601); G_16 = G_32: 7x7 4 -> 128 (25,216), 7x7 128 -> 128 (802,944), 5x5
    # 128 -> 3 (9,603); D_k: 5x5 3 -> 128 (9,728), 5x5/2 128 -> 128 (409,728), output 4x4x128 + 1 (2,049) at 16
    # and 12x12x128 + 1 (18,433) at 32
    "lapgan": 1_792_992 + 477_001 + 2 * 837_763 + 421_505 + 437_889,
    # class-conditional: 10 more inputs to G_8 (12,000) and D_8 (6,000); class planes 10 -> 16x16 (2,816) and
    # 10 -> 32x32 (11,264) in each of G_k and D_k; the first convolutions see one more plane (G 7x7x128 = 6,272,
    # D 5x5x128 = 3,200)
    "lapgan-conditional": 4_804_913 + 12_000 + 6_000 + 2 * (2_816 + 11_264) + 2 * 6_272 + 2 * 3_200,
    # Dosovitskiy & Brox DeePSiM, AlexNet fc6 inversion: the frozen AlexNet to fc6 (convs 34,944 + 307,456 +
    # 885,120 + 663,936 + 442,624, fc6 9216 x 4096 + 4096 = 37,752,832); G fc 3 x 16,781,312, upconvs and convs
    # 1,048,832 + 1,180,160 + 2,097,408 + 590,080 + 524,416 + 147,584 + 131,136 + 32,800 + 1,539; D convs 4,736 +
    # 51,264 + 73,856 + 295,168 + 590,080, feature fcs 4,195,328 + 524,800, fc 768 x 512 + 512, output 513
    "deepsim": 40_086_912 + 50_343_936 + 5_753_955 + 1_015_104 + 4_720_128 + 393_728 + 513,
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


def _state(net):
    """Every variable a training step can create: the model's, its optimizers' and its metrics'."""
    optimizers = {id(o): o for o in (net.optimizer, getattr(net, "d_optimizer", None)) if o is not None}
    return [*net.variables, *(v for o in optimizers.values() for v in o.variables),
            *(v for m in net.metrics for v in m.variables)]


@pytest.mark.parametrize("name", MODELS)
def test_tiny_trains_and_round_trips(name, tmp_path):
    info = zoo.model_info(name)
    keras.utils.set_random_seed(0)
    net = zoo.build(name, "tiny")
    _compile(net, info, 1e-3, jit=False)
    x, y = _batch(net, info)

    # forward and backward: one optimizer step moves every trainable weight and the loss is finite
    before = [np.array(w) for w in net.trainable_weights]
    state = {id(v) for v in _state(net)}
    logs = net.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    # the optimizer's and metrics' variables existed before the first step, so its train step was traced once
    # (`run.build_training_state`; created inside the trace, 134 of them for the bidirectional GRU-RCN, they cost
    # a second trace)
    assert [v.path for v in _state(net) if id(v) not in state] == []
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


@pytest.mark.bench  # about 70 s: in `make bench`
def test_building_the_training_state_first_halves_the_first_step():
    """The first `train_on_batch` of the tiny bidirectional GRU-RCN (the longest trace of the tiny presets) with
    the optimizer and metrics built by `run.build_training_state` before it, and with them left to Keras (created
    inside the first trace, which is then traced again), alternating, after one warm-up: the built runs take at
    most 0.7 of the time (measured on an Intel Xeon: 8.7 s vs 16.5 s)."""
    info = zoo.model_info("gru-rcn-bidirectional")
    seconds = {True: [], False: []}
    for build in (True, True, False, True, False):  # the first is the warm-up
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        net = zoo.build(info.name, "tiny")
        x, y = _batch(net, info)
        start = time.perf_counter()
        with pytest.MonkeyPatch.context() as patch:
            if not build:
                patch.setattr(run, "build_training_state", lambda model, info: None)
            _compile(net, info, 1e-3, jit=False)
        net.train_on_batch(x, y)
        seconds[build].append(time.perf_counter() - start)
    built, left = np.median(seconds[True][1:]), np.median(seconds[False])
    print(f"\nfirst step: {built:.1f} s built first, {left:.1f} s left to Keras")
    assert built < 0.7 * left
