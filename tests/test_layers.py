import numpy as np
import pytest

from zoo.layers import LocalResponseNormalization


def test_lrn_matches_numpy_reference_of_alexnet_equation():
    """b[c] = a[c] / (k + alpha * sum_{|c'-c| <= n/2} a[c']^2) ** beta (Krizhevsky et al. 2012, Sec. 3.3)."""
    rng = np.random.default_rng(0)
    a = rng.normal(0, 3, (2, 4, 5, 11)).astype("float32")
    k, n, alpha, beta = 2.0, 5, 1e-2, 0.75
    ref = np.empty_like(a)
    for c in range(a.shape[-1]):
        lo, hi = max(0, c - n // 2), min(a.shape[-1], c + n // 2 + 1)
        ref[..., c] = a[..., c] / (k + alpha * np.sum(a[..., lo:hi] ** 2, axis=-1)) ** beta
    got = np.asarray(LocalResponseNormalization(size=n, bias=k, alpha=alpha, beta=beta)(a))
    assert np.max(np.abs(got - ref) / (np.abs(ref) + 1e-6)) < 1e-5


def _smooth_texture(h, w, seed=0, sigma=3.0):
    from scipy.ndimage import gaussian_filter

    t = gaussian_filter(np.random.default_rng(seed).uniform(0, 1, (h, w)), sigma)
    return (t - t.min()) / (t.max() - t.min())  # full contrast, like a real image


def test_hardwired_features_match_numpy_reference():
    """Ji et al. 2010, H1: gray, central-difference gradients and Lucas-Kanade flow (5x5 window)."""
    from scipy.ndimage import convolve

    from zoo.layers import HardwiredFeatures

    rng = np.random.default_rng(1)
    frames = rng.uniform(0, 1, (1, 3, 12, 10, 3)).astype("float32")
    gray, gx, gy, fx, fy = [np.asarray(a)[0, ..., 0] for a in HardwiredFeatures(window=5)(frames)]
    ref_gray = frames[0] @ np.array([0.299, 0.587, 0.114], "float32")
    np.testing.assert_allclose(gray, ref_gray, atol=1e-6)

    def grads(img):
        ix, iy = np.zeros_like(img), np.zeros_like(img)
        ix[:, 1:-1] = (img[:, 2:] - img[:, :-2]) / 2
        iy[1:-1] = (img[2:] - img[:-2]) / 2
        return ix, iy

    np.testing.assert_allclose(gx[1], grads(ref_gray[1])[0], atol=1e-6)
    np.testing.assert_allclose(gy[2], grads(ref_gray[2])[1], atol=1e-6)
    ix, iy = grads((ref_gray[0] + ref_gray[1]) / 2)
    it = ref_gray[1] - ref_gray[0]
    box = lambda a: convolve(a.astype(np.float64), np.ones((5, 5)), mode="constant")  # noqa: E731
    sxx, sxy, syy, sxt, syt = box(ix * ix), box(ix * iy), box(iy * iy), box(ix * it), box(iy * it)
    det = sxx * syy - sxy ** 2 + 1e-3 * (sxx + syy) ** 2 + 1e-12
    np.testing.assert_allclose(fx[0], (-syy * sxt + sxy * syt) / det, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fy[0], (sxy * sxt - sxx * syt) / det, rtol=1e-3, atol=1e-4)
    assert fx.shape == (2, 12, 10) and gray.shape == (3, 12, 10)


def test_lucas_kanade_recovers_a_subpixel_translation():
    import tensorflow as tf

    from zoo.layers.ji import lucas_kanade

    big = _smooth_texture(80, 80)
    dx, dy = 0.4, -0.3
    yy, xx = np.mgrid[0:80, 0:80].astype(float)
    from scipy.ndimage import map_coordinates

    moved = map_coordinates(big, [yy - dy, xx - dx], order=3, mode="reflect")  # content moves by (dx, dy)
    u, v = lucas_kanade(tf.constant(big[None, ..., None], tf.float32), tf.constant(moved[None, ..., None], tf.float32))
    inner = (slice(None), slice(10, -10), slice(10, -10))
    assert abs(np.median(np.asarray(u)[inner]) - dx) < 0.05
    assert abs(np.median(np.asarray(v)[inner]) - dy) < 0.05


def test_subsampling_is_a_trainable_average():
    from zoo.layers import Subsampling

    x = np.random.default_rng(0).normal(size=(2, 3, 6, 4, 5)).astype("float32")
    layer = Subsampling(2)
    layer.build(x.shape)
    coef = np.random.default_rng(1).normal(size=(3, 1, 1, 5)).astype("float32")
    bias = np.random.default_rng(2).normal(size=(3, 1, 1, 5)).astype("float32")
    layer.set_weights([coef, bias])
    ref = x.reshape(2, 3, 3, 2, 2, 2, 5).mean(axis=(3, 5)) * coef + bias
    np.testing.assert_allclose(np.asarray(layer(x)), ref, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 2 * 3 * 5  # one coefficient and one bias per feature map


def test_circular_padding_matches_numpy_wrap_and_round_trips(tmp_path):
    """CircularPadding2D is np.pad(mode="wrap") on rows and columns; it serializes inside a .keras model."""
    import keras

    from zoo.layers import CircularPadding2D

    x = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype("float32")
    for padding in (1, 2, (3, 1), (0, 4)):
        rows, cols = (padding, padding) if isinstance(padding, int) else padding
        want = np.pad(x, ((0, 0), (rows, rows), (cols, cols), (0, 0)), mode="wrap")
        np.testing.assert_array_equal(np.asarray(CircularPadding2D(padding)(x)), want)
    inp = keras.Input((5, 7, 3))
    model = keras.Model(inp, CircularPadding2D((2, 3), name="wrap")(inp))
    model.save(tmp_path / "wrap.keras")
    again = keras.saving.load_model(tmp_path / "wrap.keras")
    assert again.get_layer("wrap").padding == (2, 3) and again.output.shape == (None, 9, 13, 3)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    with pytest.raises(ValueError, match="larger than the image"):
        CircularPadding2D(6)(x)
