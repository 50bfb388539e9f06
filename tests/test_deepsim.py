"""DeePSiM: its loss terms against their definitions, learning to invert features, the comparator's file."""

import keras
import numpy as np
import pytest

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.training import judge


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-np.asarray(t, np.float64)))


def test_loss_terms_equal_their_definitions():
    """On fixed images, from the sub-networks: L_img = ||255 (G(x) - y)||^2, L_feat = ||C(G(x)) - C(y)||^2,
    L_adv = -log D(G(x), x), the objective their weighted sum; D's loss -log D(y, x) - log(1 - D(G(x), x))."""
    keras.utils.set_random_seed(0)
    net = zoo.build("deepsim", "tiny")
    y = datasets.image_arrays("mnist", "test")[0][::100].astype("float32") / 255.0
    x, c_real = (np.asarray(t, np.float64) for t in net.encoder(y))
    fake = np.asarray(net.generator(x.astype("float32")), np.float64)
    c_fake = np.asarray(net.encoder(fake.astype("float32"))[1], np.float64)
    d_fake = _sigmoid(net.discriminator({"images": fake.astype("float32"), "features": x.astype("float32")}))[:, 0]
    d_real = _sigmoid(net.discriminator({"images": y, "features": x.astype("float32")}))[:, 0]
    want = {"image": (((fake - y) * 255.0) ** 2).reshape(10, -1).sum(1),
            "feature": ((c_fake - c_real) ** 2).reshape(10, -1).sum(1), "adversarial": -np.log(d_fake)}
    want["objective"] = 2e-6 * want["image"] + net.lambda_feat * want["feature"] + 100.0 * want["adversarial"]
    got = net.generator_losses(y)
    for key, value in want.items():
        np.testing.assert_allclose(np.asarray(got[key]), value, rtol=1e-4, err_msg=key)
    net.compile()
    logs = net.evaluate(y, batch_size=10, verbose=0, return_dict=True)
    assert logs["d_loss"] == pytest.approx(np.mean(-np.log(d_real) - np.log(1 - d_fake)), rel=1e-4)
    assert logs["image"] == pytest.approx(want["image"].mean(), rel=1e-4)
    paper = zoo.model_info("deepsim").arguments()  # the paper's weights are the defaults
    assert (paper["lambda_img"], paper["lambda_feat"], paper["lambda_adv"]) == (2e-6, 0.01, 100.0)


def test_deepsim_learns_to_invert_digit_features():
    """Two epochs on the embedded MNIST: the reconstructions G(E(y)) of the test digits get closer in pixels and in
    the digit classifier's FID."""
    keras.utils.set_random_seed(0)
    net = zoo.build("deepsim", "tiny")
    net.compile()
    test = datasets.image_arrays("mnist", "test")[0].astype("float32") / 255.0
    space = judge.digit_features()

    def scores():
        r = np.asarray(net.reconstruct(test))
        return float(((r - test) ** 2).mean()), judge.fid(space(r), space(test))

    before = scores()
    net.fit(datasets.image_arrays("mnist", "train")[0] / 255.0, batch_size=64, epochs=2, verbose=0)
    after = scores()
    print(f"\nDeePSiM reconstructions: MSE {before[0]:.4f} -> {after[0]:.4f}, FID {before[1]:.1f} -> {after[1]:.1f}")
    assert after[0] < 0.6 * before[0] and after[1] < 0.5 * before[1]


def test_comparator_comes_from_a_local_file(tmp_path):
    digits = judge.digit_classifier()
    path = str(tmp_path / "digits.weights.h5")
    digits.save_weights(path)
    net = zoo.build("deepsim", "tiny", comparator_weights=path)
    y = datasets.image_arrays("mnist", "test")[0][:4].astype("float32") / 255.0
    np.testing.assert_allclose(np.asarray(net.encoder(y)[0]),
                               np.asarray(keras.Model(digits.input, digits.get_layer("features").output)(y)),
                               atol=1e-6)
    for kwargs, message in ((dict(comparator_weights=str(tmp_path / "missing.h5")), "no weights file"),
                            (dict(comparator="alexnet", comparator_weights=path, height=227, width=227,
                                  channels=3, feature_layer="fc6", comparator_layer="conv5"),
                             "holds no weights for the zoo's AlexNet"),
                            (dict(comparator_layer="conv7"), "has no layer 'conv7'"),
                            (dict(comparator="vgg"), "unknown comparator")):
        with pytest.raises(ZooError, match=message) as e:
            zoo.build("deepsim", "tiny", **kwargs)
        assert "\n" not in str(e.value)
