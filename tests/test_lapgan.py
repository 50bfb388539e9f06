"""LAPGAN: the Laplacian pyramid, sampling through it, and the class-conditional variant's labels."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.generative import lapgan
from zoo.training import data as zdata


def test_laplacian_pyramid_rebuilds_the_image():
    x = tf.constant(datasets.image_arrays("mnist", "test")[0][:8] / 255.0, tf.float32)
    coarsest, residuals = lapgan.laplacian_pyramid(x, 3)
    assert coarsest.shape[1:3] == (7, 7) and [r.shape[1] for r in residuals] == [14, 28]
    np.testing.assert_allclose(np.asarray(lapgan.reconstruct(coarsest, residuals)), np.asarray(x), atol=1e-6)
    # the band-pass images carry the detail: much smaller than the image, but not zero
    assert 0.01 < float(tf.reduce_mean(tf.abs(residuals[-1]))) < 0.5 * float(tf.reduce_mean(x))


def test_sampling_goes_through_the_pyramid():
    """Each scale of a sample is the upsampled coarser scale plus the generated residual (I_k = u(I_k+1) + h_k),
    and `sample` is the finest scale in [0, 1]; a seed fixes the samples."""
    keras.utils.set_random_seed(0)
    net = zoo.build("lapgan", "tiny")
    net.compile()
    net.train_on_batch(datasets.image_arrays("mnist", "train")[0][:16] / 255.0)
    p = net.sample_pyramid(6, seed=1)
    assert [s.shape[1] for s in p["scales"]] == [7, 14, 28] and [r.shape[1] for r in p["residuals"]] == [14, 28]
    for coarse, residual, fine in zip(p["scales"], p["residuals"], p["scales"][1:]):
        np.testing.assert_allclose(np.asarray(lapgan.upsample(coarse) + residual), np.asarray(fine), atol=1e-6)
        assert float(tf.reduce_max(tf.abs(residual))) > 0
    samples = np.asarray(net.sample(6, seed=1))
    np.testing.assert_allclose(samples, np.clip((np.asarray(p["scales"][-1]) + 1) / 2, 0, 1), atol=1e-6)
    assert np.array_equal(samples, np.asarray(net.sample(6, seed=1)))
    assert not np.array_equal(samples, np.asarray(net.sample(6, seed=2)))


def test_conditional_lapgan_gets_labels_from_the_data_path():
    """The training data path gives the class-conditional model {"images", "labels": one-hot} from the dataset's
    labels; a class count that does not match the data is one clear error; the labels steer the samples."""
    keras.utils.set_random_seed(0)
    info = zoo.model_info("lapgan-conditional")
    net = zoo.build("lapgan-conditional", "tiny")
    net.compile()
    ds = zdata.dataset(info, net, "mnist", "test", 50, training=False)
    batch = next(iter(ds))
    images, labels = datasets.image_arrays("mnist", "test")
    np.testing.assert_allclose(np.asarray(batch["images"]), images[:50] / 255.0, atol=1e-6)
    assert np.array_equal(np.asarray(batch["labels"]).argmax(-1), labels[:50])
    logs = net.fit(ds.take(2), verbose=0, shuffle=False).history  # a dataset: Keras warns about its own shuffle
    assert {"d_loss_7", "g_loss_28", "loss"} <= set(logs) and np.isfinite(logs["loss"][-1])
    zdata.check(info, datasets.info("mnist"), model=net)
    with pytest.raises(ZooError, match="conditioned on 5 classes"):
        zdata.check(info, datasets.info("mnist"), model=zoo.build("lapgan-conditional", "tiny", num_classes=5))
    zeros, ones = net.sample(4, seed=0, labels=[0] * 4), net.sample(4, seed=0, labels=[1] * 4)
    assert float(tf.reduce_max(tf.abs(zeros - ones))) > 1e-3
