"""ConvGRU2D against a NumPy implementation of Ballas et al. 2016's equations (Sec. 3.1; the stacked bottom-up
term of Sec. 3.2), in float64:

    z = sigma(Wz * x + Uz * h),  r = sigma(Wr * x + Ur * h),  h~ = tanh(W * x + U * (r . h)),  h' = (1 - z) h + z h~
"""

import keras
import numpy as np
import pytest

from zoo.layers import ConvGRU2D

B, T, H, W, C, F = 2, 5, 6, 7, 3, 4
TOL = 1e-5


def conv_same(x, k):
    """2-D cross-correlation with zero "same" padding (odd kernels): x [B, H, W, C], k [kh, kw, C, F]."""
    kh, kw = k.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[-1],))
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + x.shape[1], j:j + x.shape[2]] @ k[i, j]
    return out


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference(x, kernel, recurrent, bias=None, bottom_up_kernel=None, h0=None, mask=None, backwards=False,
              x_masks=None, h_masks=None):
    """The equations step by step; returns (outputs [B, T, H, W, F] in processing order, last state).
    ``x_masks`` / ``h_masks``: the dropout masks of the three gates (z, r, candidate), the same at every step."""
    x = np.asarray(x, np.float64)
    f = recurrent.shape[-1] // 3
    c = kernel.shape[2]
    wz, wr, w = np.split(kernel.astype(np.float64), 3, axis=-1)
    uz, ur, u = np.split(recurrent.astype(np.float64), 3, axis=-1)
    bz, br, bh = np.split(bias.astype(np.float64), 3) if bias is not None else (0.0, 0.0, 0.0)
    h = np.zeros(x.shape[:1] + x.shape[2:4] + (f,)) if h0 is None else np.asarray(h0, np.float64)
    order = range(x.shape[1] - 1, -1, -1) if backwards else range(x.shape[1])
    outputs = []
    for t in order:
        xt = x[:, t]
        xg = [xt * m for m in x_masks] if x_masks is not None else [xt] * 3
        hg = [h * m for m in h_masks] if h_masks is not None else [h] * 3
        az = conv_same(xg[0][..., :c], wz) + conv_same(hg[0], uz) + bz
        ar = conv_same(xg[1][..., :c], wr) + conv_same(hg[1], ur) + br
        if bottom_up_kernel is not None:
            vz, vr = np.split(bottom_up_kernel.astype(np.float64), 2, axis=-1)
            az += conv_same(xg[0][..., c:], vz)
            ar += conv_same(xg[1][..., c:], vr)
        z, r = sigmoid(az), sigmoid(ar)
        candidate = np.tanh(conv_same(xg[2][..., :c], w) + conv_same(r * hg[2], u) + bh)
        new = (1 - z) * h + z * candidate
        if mask is not None:  # a masked step keeps the state (and repeats the previous output)
            keep = mask[:, t][:, None, None, None]
            new = np.where(keep, new, h)
        h = new
        outputs.append(h)
    return np.stack(outputs, axis=1), h


def rel_error(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


def _layer(seed=0, bottom_up=0, use_bias=True, kernel_size=3, **kw):
    """A built layer with random weights (biases too, so that they are tested); returns (layer, weights dict)."""
    rng = np.random.default_rng(seed)
    layer = ConvGRU2D(F, kernel_size, use_bias=use_bias, bottom_up=bottom_up, **kw)
    layer.build((None, T, H, W, C + bottom_up))
    values = [rng.normal(0, 0.4, tuple(v.shape)).astype("float32") for v in layer.weights]
    layer.set_weights(values)
    cell = layer.cell
    weights = {"kernel": np.asarray(cell.kernel), "recurrent": np.asarray(cell.recurrent_kernel),
               "bias": np.asarray(cell.bias) if use_bias else None,
               "bottom_up_kernel": np.asarray(cell.bottom_up_kernel) if bottom_up else None}
    return layer, weights


def _inputs(seed=1, channels=C):
    return np.random.default_rng(seed).normal(0, 1, (B, T, H, W, channels)).astype("float32")


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("kernel_size", [3, (3, 5)])
def test_matches_the_equations(use_bias, kernel_size):
    layer, w = _layer(use_bias=use_bias, kernel_size=kernel_size, return_sequences=True)
    x = _inputs()
    want, _ = reference(x, **w)
    assert rel_error(layer(x), want) < TOL
    assert layer.count_params() == 3 * F * (np.prod(layer.cell.kernel_size) * (C + F) + use_bias)


def test_go_backwards_reads_the_sequence_from_its_end():
    layer, w = _layer(return_sequences=True, go_backwards=True)
    x = _inputs()
    want, last = reference(x, **w, backwards=True)
    got = np.asarray(layer(x))
    assert rel_error(got, want) < TOL
    assert rel_error(got[:, -1], last) < TOL
    forward, _ = reference(x, **w)
    assert np.max(np.abs(got - forward)) > 0.1  # really a different order


def test_masked_steps_keep_the_state():
    layer, w = _layer(return_sequences=True)
    x = _inputs()
    mask = np.array([[True, True, False, True, False], [True, False, False, True, True]])
    want, _ = reference(x, **w, mask=mask)
    got = np.asarray(layer(x, mask=mask))
    assert rel_error(got, want) < TOL
    np.testing.assert_array_equal(got[0, 2], got[0, 1])  # masked: the previous output and state carry over
    np.testing.assert_array_equal(got[1, 2], got[1, 0])
    assert np.max(np.abs(got[0, 3] - got[0, 2])) > 1e-3  # unmasked steps move on


def test_return_state_and_initial_state():
    layer, w = _layer(return_sequences=True, return_state=True)
    x = _inputs()
    h0 = np.random.default_rng(2).normal(0, 0.5, (B, H, W, F)).astype("float32")
    want, last = reference(x, **w, h0=h0)
    sequence, state = layer(x, initial_state=[h0])
    assert rel_error(sequence, want) < TOL and rel_error(state, last) < TOL
    assert state.shape == (B, H, W, F)


def test_stacked_bottom_up_term_reaches_only_the_gates():
    below = 2
    layer, w = _layer(bottom_up=below, return_sequences=True)
    x = _inputs(channels=C + below)
    want, _ = reference(x, **w)
    assert rel_error(layer(x), want) < TOL
    assert w["kernel"].shape == (3, 3, C, 3 * F) and w["bottom_up_kernel"].shape == (3, 3, below, 2 * F)


def test_dropout_one_mask_per_sequence_in_training_none_in_inference():
    layer, w = _layer(return_sequences=True, dropout=0.3, recurrent_dropout=0.2, seed=3)
    x = _inputs()
    cell, seen = layer.cell, {}
    for name in ("get_dropout_mask", "get_recurrent_dropout_mask"):  # record the masks the RNN draws
        original = getattr(cell, name)
        setattr(cell, name, lambda a, f=original, n=name: seen.setdefault(n, f(a)))
    got = np.asarray(layer(x, training=True))
    x_masks = [np.asarray(m, np.float64) for m in seen["get_dropout_mask"]]
    h_masks = [np.asarray(m, np.float64) for m in seen["get_recurrent_dropout_mask"]]
    assert len(x_masks) == len(h_masks) == 3 and x_masks[0].shape == (B, H, W, C)
    kept = np.concatenate([m.ravel() for m in x_masks])
    assert set(np.round(np.unique(kept), 5)) == {0.0, round(1 / 0.7, 5)}  # inverted dropout, rate 0.3
    assert 0.2 < np.mean(kept == 0) < 0.4
    want, _ = reference(x, **w, x_masks=x_masks, h_masks=h_masks)
    assert rel_error(got, want) < TOL  # the same masks at every step reproduce the training output
    clean, _ = reference(x, **w)
    assert rel_error(layer(x, training=False), clean) < TOL
    assert rel_error(got, clean) > 0.05


def test_config_round_trip_and_unroll_agree():
    layer, w = _layer(return_sequences=True, unroll=True, dropout=0.1)
    x = _inputs()
    clone = ConvGRU2D.from_config(layer.get_config())
    clone.build((None, T, H, W, C))
    clone.set_weights(layer.get_weights())
    want, _ = reference(x, **w)
    assert rel_error(clone(x), want) < TOL and rel_error(layer(x), want) < TOL
    assert clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((T, H, W, C)), ConvGRU2D(F, 3)])
    assert model.output_shape == (None, H, W, F)
