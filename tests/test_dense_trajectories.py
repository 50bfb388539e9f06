"""Dense trajectories (Wang et al. 2013): descriptor sizes, tracking against a known motion, the trajectory filters,
HOG / HOF / MBH on known images and flows, and the whole baseline learning digit-actions."""

import cv2
import numpy as np
import pytest

from pipelines import datasets
from zoo.errors import ZooError
from zoo.features import dense_trajectories as dt

PAPER = dt.config("paper")


def texture(size, seed):
    """Smooth random noise in [0, 255] (float32 [size, size])."""
    noise = np.random.default_rng(seed).uniform(0, 255, (size, size)).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 255, cv2.NORM_MINMAX)


def window(image, dx, dy, size=64):
    """The central size x size window of ``image`` with its content moved by (dx, dy) pixels (bilinear), uint8."""
    off = (image.shape[0] - size) / 2
    m = np.float32([[1, 0, dx - off], [0, 1, dy - off]])
    moved = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)


def translating(dx, dy, frames=20, seed=0):
    big = texture(128, seed)
    return np.stack([window(big, dx * t, dy * t) for t in range(frames)])


def test_descriptor_sizes():
    assert PAPER.sizes() == {"trajectory": 30, "hog": 96, "hof": 108, "mbhx": 96, "mbhy": 96}
    assert sum(PAPER.sizes().values()) == 426
    assert dt.config("tiny").sizes() == PAPER.sizes()  # the tiny preset keeps the paper's 2 x 2 x 3 grid and L
    video = np.repeat(translating(1.0, 0.5)[..., None], 3, axis=-1)  # RGB input
    f = dt.extract(video, PAPER)
    n = len(f["points"])
    assert n > 100
    assert {k: v.shape for k, v in f.items()} == {
        "trajectory": (n, 30), "hog": (n, 96), "hof": (n, 108), "mbhx": (n, 96), "mbhy": (n, 96),
        "points": (n, 16, 2), "frame": (n,), "scale": (n,)}
    np.testing.assert_allclose(np.linalg.norm(f["trajectory"].reshape(n, 15, 2), axis=-1).sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("preset", ["paper", "tiny"])
@pytest.mark.parametrize("dx, dy, seed", [(1.5, -0.75, 0), (-1.0, 2.0, 1), (0.6, 0.3, 2)])
def test_tracked_displacement_matches_a_translating_texture(preset, dx, dy, seed):
    """Over L = 15 frames the texture moves (15 dx, 15 dy): the median trajectory displacement is within 0.25 px of
    it (measured <= 0.18), 90% of the trajectories within 2.5 px (measured <= 1.9), and on every scale the median
    error is below 1 pixel of that scale (measured <= 0.72)."""
    cfg = dt.config(preset)
    f = dt.extract(translating(dx, dy, seed=seed), cfg)
    disp = f["points"][:, -1] - f["points"][:, 0]
    truth = cfg.length * np.array([dx, dy])
    err = np.linalg.norm(disp - truth, axis=1)
    np.testing.assert_allclose(np.median(disp, axis=0), truth, atol=0.25)
    assert np.percentile(err, 90) < 2.5
    scales = np.unique(f["scale"])
    np.testing.assert_allclose(scales, [1, np.sqrt(2), 2])  # 64, 45 and 32 pixels: each holds an N = 32 patch
    for s in scales:
        assert np.median(err[f["scale"] == s]) / s < 1.0
    steps = np.diff(f["points"], axis=1)  # each frame-to-frame step is close to (dx, dy): measured <= 0.03 px
    assert np.median(np.abs(steps - [dx, dy])) < 0.1


def test_static_video_leaves_no_trajectories():
    still = np.repeat(window(texture(128, 3), 0, 0)[None], 20, axis=0)
    assert len(dt.extract(still, PAPER)["points"]) == 0
    tracked = dt.extract(still, dt.config("paper", min_spread=0.0))  # without the static filter
    steps = np.linalg.norm(np.diff(tracked["points"], axis=1), axis=-1)
    assert len(steps) > 100 and np.median(steps) < 1e-3  # Farneback's flow is exactly still in the middle...
    assert tracked["points"].std(axis=1).max() < 0.5  # ...and drifts at most 0.26 px (measured) near the borders


def test_trajectory_filters():
    t = np.arange(16, dtype=np.float32)[:, None]
    steady = np.hstack([2 * t, 0.5 * t])  # 30 px in 15 steps
    jump = np.hstack([0.2 * t, 0 * t])
    jump[8:, 0] += 25.0  # one step of 25.2 px: 89% of the length
    small_jump = np.hstack([0.1 * t, 0 * t])
    small_jump[8:, 0] += 10.0  # 87% of the length but shorter than the released code's 20 px
    static = np.hstack([0 * t, 0.1 * t])  # spread 0.46 px
    wild = np.hstack([12 * t, 0 * t])  # spread 52 px
    keep = dt.valid_trajectories(np.stack([steady, jump, small_jump, static, wild]), PAPER)
    assert keep.tolist() == [True, False, True, False, False]
    # the paper's rule alone (no pixel minimum) also removes the small jump
    assert not dt.valid_trajectories(small_jump[None], dt.config("paper", min_jump=0.0))[0]
    shape = dt.trajectory_shape(steady[None])
    np.testing.assert_allclose(shape.reshape(15, 2), np.tile([2, 0.5], (15, 1)) / (15 * np.hypot(2, 0.5)), rtol=1e-6)


def test_short_and_bad_videos():
    short = dt.extract(translating(1.0, 0.0, frames=15), PAPER)  # 15 frames: no trajectory reaches L + 1 points
    assert {k: v.shape[1:] for k, v in short.items() if k != "frame"}["hof"] == (108,)
    assert all(len(v) == 0 for v in short.values())
    with pytest.raises(ZooError, match="uint8"):
        dt.extract(np.zeros((20, 64, 64, 3), np.float32), PAPER)
    with pytest.raises(ZooError, match="smaller than the descriptor patch"):
        dt.extract(np.zeros((20, 24, 24), np.uint8), PAPER)
    with pytest.raises(ZooError, match="no setting"):
        dt.config("tiny", window=3)


def raw_histograms(gray, flow, point=(32.0, 32.0)):
    """The 2 x 2 cell sums of one frame around ``point``, per descriptor, summed over the cells: {name: [bins]}."""
    d = dt.frame_descriptors(gray, flow, np.array([point], np.float32), PAPER, normalize=False)
    return {k: v.reshape(4, -1).sum(0) for k, v in d.items()}


@pytest.mark.parametrize("k", range(8))
def test_hof_of_uniform_flow_fills_its_orientation_bin(k):
    angle = np.deg2rad(45 * k)  # bin k is centred on 45 k degrees (x right, y down)
    flow = np.empty((64, 64, 2), np.float32)
    flow[...] = 1.5 * np.cos(angle), 1.5 * np.sin(angle)
    hof = raw_histograms(np.zeros((64, 64), np.uint8), flow)["hof"]
    assert np.argmax(hof) == k and hof[k] / hof.sum() > 0.999
    np.testing.assert_allclose(hof.sum(), 1.5 * 32 * 32, rtol=1e-5)  # magnitude-weighted votes over the N x N patch


def test_hof_between_bins_and_zero_bin():
    flow = np.empty((64, 64, 2), np.float32)
    flow[...] = np.cos(np.deg2rad(22.5)), np.sin(np.deg2rad(22.5))  # half way between bins 0 and 1
    hof = raw_histograms(np.zeros((64, 64), np.uint8), flow)["hof"]
    np.testing.assert_allclose(hof[:2] / hof.sum(), [0.5, 0.5], atol=1e-4)
    flow[...] = 0.3, 0.1  # slower than min_flow = 0.4 px: the zero bin, one vote per pixel
    hof = raw_histograms(np.zeros((64, 64), np.uint8), flow)["hof"]
    assert hof[8] == 32 * 32 and hof[:8].sum() == 0


@pytest.mark.parametrize("edge, bin_", [("dark-left", 0), ("dark-right", 4), ("dark-top", 2), ("dark-bottom", 6)])
def test_hog_of_a_straight_edge(edge, bin_):
    """The gradient points from dark to bright: a vertical edge bright on the right is 0 degrees (bin 0)."""
    image = np.zeros((64, 64), np.uint8)
    bright = {"dark-left": (slice(None), slice(32, None)), "dark-right": (slice(None), slice(None, 32)),
              "dark-top": (slice(32, None), slice(None)), "dark-bottom": (slice(None, 32), slice(None))}[edge]
    image[bright] = 200
    hog = raw_histograms(image, np.zeros((64, 64, 2), np.float32))["hog"]
    assert np.argmax(hog) == bin_ and hog[bin_] / hog.sum() > 0.999
    np.testing.assert_allclose(hog.sum(), 200 * 32 * 2)  # [-1, 0, 1]: two pixel columns of 200 along the edge


def test_mbh_sees_motion_boundaries_not_translation():
    """Farneback flow of a whole texture moving 1 px right vs its left half only: HOF is alike, MBH of the uniform
    translation is ~0 (measured 0.8 vs 69 in the patch) and MBHx at the boundary points from moving to still."""
    big = texture(128, 7)
    first, moved = window(big, 0, 0), window(big, 1, 0)
    half = first.copy()
    half[:, :32] = moved[:, :32]
    uniform = raw_histograms(first, dt.optical_flow(first, moved, PAPER))
    boundary = raw_histograms(first, dt.optical_flow(first, half, PAPER))
    assert uniform["hof"][0] / uniform["hof"].sum() > 0.95 and uniform["hof"].sum() > 900  # ~1 px x 1024 pixels
    assert uniform["mbhx"].sum() < 0.05 * boundary["mbhx"].sum()
    assert uniform["mbhx"].sum() + uniform["mbhy"].sum() < 0.005 * uniform["hof"].sum()
    assert np.argmax(boundary["mbhx"]) == 4  # flow x falls from 1 to 0 along +x: its gradient points to 180 degrees
    # after epsilon and L2 normalization a boundary-free patch is nearly flat: no orientation stands out
    flat = dt.frame_descriptors(first, np.full((64, 64, 2), [1.0, 0.0], np.float32), np.array([[32.0, 32.0]]),
                                PAPER)["mbhx"]
    np.testing.assert_allclose(flat, 1 / np.sqrt(32), rtol=1e-6)


def test_parallel_extraction_and_the_video_classifier():
    """Two worker processes give the same descriptors as one; the classifier fitted on raw videos separates
    rightward from leftward textures."""
    videos = [translating(s * 1.2, 0.0, frames=17, seed=10 + i) for i, s in enumerate([1, -1] * 4)]
    labels = [0, 1] * 4
    one, two = dt.extract_many(videos, PAPER, processes=1), dt.extract_many(videos, PAPER, processes=2)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(one, two) for k in a)
    model = dt.DenseTrajectoryClassifier(PAPER, codebook_size=8, n_init=1, processes=2).fit(videos[:6], labels[:6])
    assert model.predict(videos[6:]).tolist() == labels[6:]
    assert model.predict_proba(videos[6:]).shape == (2, 2)


def test_dense_trajectories_learn_digit_actions():
    """200 training videos (20 per class), 100 test videos, tiny preset, 64-word codebooks: video hit@1 well above
    chance (0.1); measured 0.82 (hit@5 1.00)."""
    data = datasets.video_dir("digit-actions", progress=False, train=20, val=1, test=10, shards=2)
    val = list(dt.read_videos(data, "val"))
    assert sorted(label for _, label, _ in val) == list(range(10)) and len({vid for vid, _, _ in val}) == 10
    assert all(frames.shape == (32, 32, 32, 3) and frames.dtype == np.uint8 for _, _, frames in val)
    r = dt.evaluate(data, dt.config("tiny"), codebook_size=64, max_features=10_000, n_init=1, C=1.0)
    print(f"\ndense trajectories on digit-actions: {r}")
    assert r["videos"] == 100 and r["views_per_video"] == 1 and r["train_videos"] == 200
    assert r["clip_hit@1"] == r["video_hit@1"]  # the clip is the whole video
    assert r["video_hit@1"] > 0.5
    assert r["video_hit@5"] > 0.9
