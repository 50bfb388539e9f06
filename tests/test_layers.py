import numpy as np

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
