"""GAN and DCGAN: the two-player training step, the DCGAN guidelines, learning measured by FID, the figure tools."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.generative.gan import Adversarial
from zoo.training import gan_figures, judge, run


def _images(n, offset=0):
    return datasets.image_arrays("mnist", "train")[0][offset:offset + n].astype("float32") / 255.0


def _snapshot(weights):
    return [np.array(w) for w in weights]


def _changed(before, weights):
    return [not np.array_equal(b, np.array(w)) for b, w in zip(before, weights)]


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_each_step_moves_only_its_own_network(name):
    """Algorithm 1, k = 1: the discriminator step changes every D weight and no G weight, the generator step every
    G weight and no D weight; each optimizer counts its own step."""
    keras.utils.set_random_seed(0)
    net = zoo.build(name, "tiny")
    net.compile()
    d0, g0 = _snapshot(net.discriminator_weights), _snapshot(net.generator_weights)
    net.discriminator_step(tf.constant(_images(16)))
    assert all(_changed(d0, net.discriminator_weights)) and not any(_changed(g0, net.generator_weights))
    d1 = _snapshot(net.discriminator_weights)
    net.generator_step(16)
    assert all(_changed(g0, net.generator_weights)) and not any(_changed(d1, net.discriminator_weights))
    assert int(net.d_optimizer.iterations) == 1 and int(net.g_optimizer.iterations) == 1
    assert net.optimizer is net.g_optimizer and net.d_optimizer is not net.g_optimizer


def test_logged_values_are_the_losses_they_name():
    """The logs are the trackers' names, and on a fixed batch (the test step's noise is seed 0) each equals its
    definition computed here from the two networks: d_loss = -log D(x) - log(1 - D(G(z))), g_loss = -log D(G(z)),
    loss = d_loss + g_loss, d_real / d_fake = D's mean probabilities."""
    keras.utils.set_random_seed(0)
    net = zoo.build("gan", "tiny")
    net.compile()
    x = _images(32)
    logs = net.train_on_batch(x, return_dict=True)
    assert set(logs) == {m.name for m in net.metrics} == set(Adversarial.LOGS)
    logs = net.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    sigmoid = lambda t: 1.0 / (1.0 + np.exp(-np.asarray(t, np.float64)))  # noqa: E731
    real = sigmoid(net.discriminator(x, training=False))
    fake = sigmoid(net.discriminator(net.generator(net.noise(32, seed=0), training=False), training=False))
    want = {"d_loss": np.mean(-np.log(real) - np.log(1 - fake)), "g_loss": np.mean(-np.log(fake)),
            "d_real": real.mean(), "d_fake": fake.mean()}
    want["loss"] = want["d_loss"] + want["g_loss"]
    for key, value in want.items():
        assert logs[key] == pytest.approx(value, rel=1e-4), key


def test_dcgan_follows_the_guidelines():
    """Sec. 3 and Fig. 1 on the paper preset, layer by layer."""
    net = zoo.build("dcgan", "paper")
    g, d = net.generator, net.discriminator
    kinds = lambda m, kind: [layer for layer in m.layers if isinstance(layer, kind)]  # noqa: E731
    for m in (g, d):  # no pooling anywhere; batch normalization synchronized across replicas
        assert not [layer for layer in m.layers if "Pooling" in type(layer).__name__]
        assert all(bn.synchronized for bn in kinds(m, keras.layers.BatchNormalization))
    # generator: the z projection is its only dense layer; fractional-strided convolutions up to 64x64x3
    assert [layer.name for layer in kinds(g, keras.layers.Dense)] == ["project"]
    assert g.get_layer("project").input.shape[1:] == (100,)
    ups = kinds(g, keras.layers.Conv2DTranspose)
    assert [u.strides for u in ups] == [(2, 2)] * 4 and all(u.kernel_size == (5, 5) for u in ups)
    assert [tuple(u.output.shape[1:]) for u in ups] == [(8, 8, 512), (16, 16, 256), (32, 32, 128), (64, 64, 3)]
    assert tuple(g.get_layer("reshape").output.shape[1:]) == (4, 4, 1024)
    # batch norm after the projection and every up-convolution but the output, each followed by a ReLU
    bns = kinds(g, keras.layers.BatchNormalization)
    assert [bn.name for bn in bns] == ["project_bn", "upconv1_bn", "upconv2_bn", "upconv3_bn"]
    assert len(kinds(g, keras.layers.ReLU)) == 4 and g.layers[-1].activation is keras.activations.tanh
    assert g.layers[-2] is ups[-1]  # the output: no batch norm
    # discriminator: strided convolutions, no batch norm at the input, LeakyReLU 0.2, one sigmoid output
    convs = kinds(d, keras.layers.Conv2D)
    assert [c.strides for c in convs] == [(2, 2)] * 4
    assert [c.filters for c in convs] == [128, 256, 512, 1024]
    assert [bn.name for bn in kinds(d, keras.layers.BatchNormalization)] == ["conv2_bn", "conv3_bn", "conv4_bn"]
    lrelus = kinds(d, keras.layers.LeakyReLU)
    assert len(lrelus) == 4 and all(a.negative_slope == pytest.approx(0.2) for a in lrelus)
    assert [layer.name for layer in kinds(d, keras.layers.Dense)] == ["logit"]
    assert d.layers[-2].name == "flatten" and d.layers[-1].units == 1
    # N(0, 0.02) weights, Adam 2e-4 with beta_1 0.5 by default
    assert np.std(np.asarray(g.get_layer("upconv1").kernel)) == pytest.approx(0.02, rel=0.05)
    net.compile()
    assert float(net.d_optimizer.learning_rate) == pytest.approx(2e-4) and net.d_optimizer.beta_1 == 0.5


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """The tiny DCGAN trained by the zoo's training path on the embedded MNIST for 4 epochs, then evaluated."""
    run_dir = run.train("dcgan", "mnist", preset="tiny", epochs=4, batch_size=64,
                        run_dir=str(tmp_path_factory.mktemp("runs") / "dcgan"), verbose=0)
    return run_dir, run.evaluate(run_dir)


def test_dcgan_improves_fid_and_beats_the_mlp_gan(dcgan_run):
    """FID (digit-classifier features, 1,000 samples vs the 1,000 test digits) of the tiny DCGAN after 4 epochs
    against its initial value and against Goodfellow's MLP GAN (tiny, the paper's SGD) after the same 4 epochs."""
    run_dir, metrics = dcgan_run
    keras.utils.set_random_seed(0)
    initial = judge.judge(zoo.build("dcgan", "tiny"), "mnist")["fid"]
    keras.utils.set_random_seed(0)
    mlp = zoo.build("gan", "tiny")
    mlp.compile()
    mlp.fit(datasets.image_arrays("mnist", "train")[0] / 255.0, batch_size=64, epochs=4, verbose=0)
    mlp_fid = judge.judge(mlp, "mnist")["fid"]
    print(f"\nFID: DCGAN initial {initial:.1f}, after 4 epochs {metrics['fid']:.1f} (KID {metrics['kid']:.3f} "
          f"+- {metrics['kid_std']:.3f}); MLP GAN after 4 epochs {mlp_fid:.1f}")
    assert metrics["fid"] < 0.5 * initial
    assert metrics["fid"] < mlp_fid - 50
    assert metrics["kid"] > 0 and metrics["judged_samples"] == 1000 and "d_loss" in metrics
    figures = os.path.join(run_dir, "figures")
    assert {f"samples-epoch-{e:03d}.png" for e in range(1, 5)} <= set(os.listdir(figures))


def test_nearest_neighbours_find_the_training_image():
    train = datasets.image_arrays("mnist", "train")[0][::8]
    picks = [7, 123, 400]
    indices, distances = gan_figures.nearest_neighbours(train[picks], train)
    assert indices[:, 0].tolist() == picks and np.all(distances[:, 0] == 0)
    # a perturbed copy still finds its original, and the index agrees with a brute-force search
    noisy = train[picks] / 255.0 + np.random.default_rng(0).normal(0, 0.05, train[picks].shape)
    indices, distances = gan_figures.nearest_neighbours(noisy, train / 255.0)
    brute = [int(np.argmin(((train / 255.0 - q) ** 2).sum(axis=(1, 2, 3)))) for q in noisy]
    assert indices[:, 0].tolist() == picks == brute


def test_figure_tools_write_pngs_and_keep_their_endpoints(tmp_path):
    keras.utils.set_random_seed(0)
    net = zoo.build("dcgan", "tiny")
    train = _images(200)
    path, idx, dist = gan_figures.nearest_neighbours_figure(net, train, str(tmp_path / "nn.png"), num=4)
    samples = np.asarray(net.sample(4, seed=0))
    assert os.path.isfile(path) and np.allclose(dist, np.sqrt(((train[idx] - samples) ** 2).sum(axis=(1, 2, 3))),
                                                atol=1e-4)
    z = np.asarray(net.noise(4, seed=3))
    for spherical in (False, True):
        path, images = gan_figures.interpolation_figure(net, str(tmp_path / f"walk{spherical}.png"), pairs=2,
                                                        steps=5, seed=3, spherical=spherical)
        assert os.path.isfile(path) and images.shape == (2, 5, 28, 28, 1)
        ends = np.asarray(net.generate(z))
        np.testing.assert_allclose(images[:, 0], ends[0::2], atol=1e-6)
        np.testing.assert_allclose(images[:, -1], ends[1::2], atol=1e-6)
    mid = gan_figures.interpolate(z[0], z[0] * 2, 3, spherical=True)[1]  # same direction: slerp is the line
    np.testing.assert_allclose(mid, 1.5 * z[0], rtol=1e-6)


def test_latent_arithmetic_averages_groups(tmp_path):
    keras.utils.set_random_seed(0)
    net = zoo.build("dcgan", "tiny")
    z = np.asarray(net.noise(12, seed=0), np.float64)
    groups = {"thick 7": z[:3], "thin 7": z[3:6], "thin 1": z[6:9]}
    out = gan_figures.latent_arithmetic(net, groups, "thick 7 - thin 7 + thin 1", str(tmp_path / "a.png"), num=4)
    np.testing.assert_allclose(out["z"], z[:3].mean(0) - z[3:6].mean(0) + z[6:9].mean(0), atol=1e-12)
    np.testing.assert_allclose(out["images"][0], np.asarray(net.generate(out["z"][None].astype("float32")))[0],
                               atol=1e-6)
    assert out["images"].shape == (5, 28, 28, 1) and os.path.isfile(out["path"])
    with pytest.raises(ZooError, match="unknown groups"):
        gan_figures.latent_arithmetic(net, groups, "thick 7 - smiling woman")
