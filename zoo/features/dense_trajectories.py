"""Dense trajectories: the feature-based baseline of Wang, Klaser, Schmid and Liu, "Dense Trajectories and Motion
Boundary Descriptors for Action Recognition", IJCV 2013 (and "Action Recognition by Dense Trajectories", CVPR 2011).

The paper, section by section, and where it lives here:

- Sec. 3.1 dense sampling (`dense_sample`): a grid every W = 5 pixels on up to 8 spatial scales a factor 1/sqrt(2)
  apart (only scales whose image still holds an N x N patch); grid points in homogeneous areas are dropped when the
  smaller eigenvalue of their auto-correlation matrix is below T = 0.001 * its maximum over the image.
- Sec. 3.2 tracking (`_track_scale`): P_{t+1} = P_t + (M * w)|(round x_t, round y_t), w the Farneback dense flow and
  M a 3x3 median filter; every scale is tracked on its own; a trajectory ends after L = 15 frames or when it leaves
  the frame; in every frame each W x W cell without a tracked point gets a new one, so the density stays constant.
- Sec. 3.2 post-processing (`valid_trajectories`): static trajectories and erratic ones (one displacement larger
  than 70% of the trajectory's length) are removed. The paper gives no static threshold; the authors' released code
  calls a trajectory static when the standard deviation of its positions is below sqrt(3) pixels in both x and y,
  random when it exceeds 50 in x or y, and erratic only when the large step is also longer than 20 pixels. Those are
  the defaults here (`min_spread`, `max_spread`, `min_jump`; the released code measures them in the original frame).
- Sec. 4.1 trajectory shape: the L displacement vectors divided by the sum of their lengths, 2L = 30 values.
- Sec. 4.2 descriptors in an N x N x L volume around the trajectory, N = 32, split into a n_s x n_s x n_t = 2 x 2 x 3
  grid: HOG (image gradients, 8 orientations, 96 values), HOF (flow, 8 orientations + a zero bin for flow slower
  than `min_flow`, 108), MBHx and MBHy (gradients of the x and y flow components, 8 orientations each, 96 each):
  426 values per trajectory. Orientations cover 360 degrees and every pixel votes with its magnitude, split
  linearly between the two nearest bins, through one integral histogram per frame. As in the released code, each
  frame's 2 x 2 cell histograms get an epsilon (0.05) and are L2-normalized together; a temporal cell averages its
  L / n_t frames. (The released code scales the flow by 100 before MBH, which only changes how small epsilon is.)
- Sec. 5 bag of features (`BagOfFeatures`): one k-means codebook per descriptor type (4000 words from 100,000
  random training descriptors, k-means run 8 times, in the paper), each video a histogram of nearest words. The
  paper classifies with a chi-square-kernel SVM combining the channels; this baseline uses a linear classifier, as
  its issue asks: multinomial logistic regression (scikit-learn) on the per-channel histograms, each L1-normalized
  and square-rooted (power normalization 0.5, so the linear kernel is the Hellinger kernel per channel, close to
  chi-square, and every channel has unit L2 norm). Logistic regression gives the class probabilities that video
  hit@5 needs.

A feature-based method sees a whole video at once, so its clip is the video: clip hit@1 equals video hit@1.

Presets: ``paper`` is the published configuration; ``tiny`` is sized for 32 x 32 frames (digit-actions): W = 3,
N = 16 with 8 x 8 cells (a 32-pixel patch would cover the whole frame and leave one scale), so 3 scales (32, 23 and
16 pixels), Farneback with 3 pyramid levels, and smaller thresholds for the small frames (static below 1 pixel of
spread instead of sqrt(3), erratic jumps above 4 pixels instead of 20). L stays 15: digit-actions videos have 32 frames, enough for trajectories to start in
the first 17.
"""

import collections
import dataclasses
import math
import multiprocessing
import time

import cv2
import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression

from zoo.errors import ZooError
from zoo.training import metrics

DESCRIPTORS = ("trajectory", "hog", "hof", "mbhx", "mbhy")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of the method; the defaults are the paper's numbers (and its released code's where the paper
    gives none)."""

    stride: int = 5  # W: grid step of the dense sampling, pixels
    scales: int = 8  # at most this many spatial scales...
    scale_step: float = math.sqrt(2)  # ...each this factor smaller than the previous one
    quality: float = 0.001  # eigenvalue threshold T, relative to the image's maximum
    length: int = 15  # L: frames per trajectory
    patch: int = 32  # N: side of the descriptor volume, pixels (at the trajectory's scale)
    cells: int = 2  # n_sigma: spatial cells per side
    time_cells: int = 3  # n_tau: temporal cells
    orientations: int = 8  # bins of HOG, MBH and HOF (HOF adds its zero bin)
    min_flow: float = 0.4  # HOF: flow slower than this (pixels per frame) votes for the zero bin
    epsilon: float = 0.05  # added to every bin of a frame's histograms before L2 normalization
    min_spread: float = math.sqrt(3)  # static: position std below this in both x and y (pixels, original frame)
    max_spread: float = 50.0  # random: position std above this in x or y
    jump_fraction: float = 0.7  # erratic: one step longer than this fraction of the trajectory's length...
    min_jump: float = 20.0  # ...and longer than this many pixels
    flow_levels: int = 5  # Farneback (the released code): pyramid levels,
    flow_pyr_scale: float = math.sqrt(2) / 2  # pyramid scale,
    flow_window: int = 10  # averaging window,
    flow_iterations: int = 2  # iterations per level,
    flow_poly_n: int = 7  # polynomial expansion neighbourhood
    flow_poly_sigma: float = 1.5  # and its Gaussian sigma

    def __post_init__(self):
        if self.length % self.time_cells or self.patch % self.cells:
            raise ZooError(f"length ({self.length}) must be a multiple of time_cells ({self.time_cells}) and patch "
                           f"({self.patch}) a multiple of cells ({self.cells})")

    def sizes(self):
        """Descriptor sizes: trajectory 2L, HOG and MBH n_s^2 n_t bins, HOF n_s^2 n_t (bins + 1)."""
        grid = self.cells * self.cells * self.time_cells
        b = self.orientations
        return {"trajectory": 2 * self.length, "hog": grid * b, "hof": grid * (b + 1), "mbhx": grid * b,
                "mbhy": grid * b}


PRESETS = {
    "paper": Config(),
    "tiny": Config(stride=3, scales=3, patch=16, min_spread=1.0, min_jump=4.0, flow_levels=3),
}


def config(preset="paper", **overrides):
    """The ``paper`` or ``tiny`` configuration with keyword overrides, e.g. ``config("tiny", length=9)``."""
    if preset not in PRESETS:
        raise ZooError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Config)}
    if unknown:
        raise ZooError(f"dense trajectories have no setting(s) {sorted(unknown)}")
    return dataclasses.replace(PRESETS[preset], **overrides)


# ---------------------------------------------------------------------------------------------------------------
# Sec. 3.1: dense sampling


def dense_sample(gray, cfg, occupied=None):
    """Grid points (x, y) float32 [m, 2] of ``gray`` whose smaller eigenvalue exceeds ``quality`` times the image's
    maximum, skipping the W x W cells that already hold one of the ``occupied`` points [k, 2]."""
    w = cfg.stride
    eig = cv2.cornerMinEigenVal(gray.astype(np.float32), blockSize=3, ksize=3)
    ny, nx = gray.shape[0] // w, gray.shape[1] // w
    ys, xs = np.arange(ny) * w + w // 2, np.arange(nx) * w + w // 2
    good = eig[np.ix_(ys, xs)] > cfg.quality * eig.max()
    if occupied is not None and len(occupied):
        cell = np.floor(occupied / w).astype(int)
        inside = (cell[:, 0] < nx) & (cell[:, 1] < ny)
        good[cell[inside, 1], cell[inside, 0]] = False
    row, col = np.nonzero(good)
    return np.stack([xs[col], ys[row]], axis=1).astype(np.float32)


def scale_factors(height, width, cfg):
    """Down-scaling factors 1, sqrt(2), 2, ... of the (at most ``scales``) scales whose image, rounded to whole
    pixels, still holds an N x N patch; always at least the original scale."""
    factors = [1.0]
    while len(factors) < cfg.scales and round(min(height, width) / (factors[-1] * cfg.scale_step)) >= cfg.patch:
        factors.append(factors[-1] * cfg.scale_step)
    return factors


# ---------------------------------------------------------------------------------------------------------------
# Sec. 3.2: tracking with median-filtered Farneback flow


def optical_flow(prev, cur, cfg):
    """Farneback dense flow [H, W, 2] (dx, dy) from ``prev`` to ``cur`` (uint8 grey images)."""
    return cv2.calcOpticalFlowFarneback(prev, cur, None, cfg.flow_pyr_scale, cfg.flow_levels, cfg.flow_window,
                                        cfg.flow_iterations, cfg.flow_poly_n, cfg.flow_poly_sigma,
                                        cv2.OPTFLOW_FARNEBACK_GAUSSIAN)


def _track_scale(grays, cfg):
    """Track densely sampled points through ``grays`` (uint8 [T, h, w], one scale).

    Returns the finished trajectories: points float32 [n, L + 1, 2] (x, y at this scale), start frames int [n] and
    per-frame descriptors {name: [n, L, D]} (each computed at the point's position in the frame it leaves).
    """
    length, (h, w) = cfg.length, grays.shape[1:]
    # the live tracks: their points, the index of each one's last point, start frames and per-frame descriptors
    pts, age, start = np.zeros((0, length + 1, 2), np.float32), np.zeros(0, int), np.zeros(0, int)
    desc = {k: np.zeros((0, length, size // cfg.time_cells), np.float32)
            for k, size in cfg.sizes().items() if k != "trajectory"}
    finished = [(pts, start, desc)]

    def add(points, t):
        nonlocal pts, age, start, desc
        new = np.zeros((len(points), length + 1, 2), np.float32)
        new[:, 0] = points
        pts, age = np.concatenate([pts, new]), np.concatenate([age, np.zeros(len(points), int)])
        start = np.concatenate([start, np.full(len(points), t)])
        desc = {k: np.concatenate([d, np.zeros((len(points),) + d.shape[1:], np.float32)]) for k, d in desc.items()}

    add(dense_sample(grays[0], cfg), 0)
    for t in range(1, len(grays)):
        flow = optical_flow(grays[t - 1], grays[t], cfg)
        rows = np.arange(len(age))
        last = pts[rows, age]
        for k, d in frame_descriptors(grays[t - 1], flow, last, cfg).items():
            desc[k][rows, age] = d
        median = np.dstack([cv2.medianBlur(np.ascontiguousarray(flow[..., c]), 3) for c in range(2)])
        xi = np.clip(np.rint(last[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.rint(last[:, 1]).astype(int), 0, h - 1)
        moved = last + median[yi, xi]
        pts[rows, age + 1] = moved
        age += 1
        keep = (moved[:, 0] > 0) & (moved[:, 0] < w) & (moved[:, 1] > 0) & (moved[:, 1] < h)
        done = keep & (age == length)
        finished.append((pts[done], start[done], {k: d[done] for k, d in desc.items()}))
        keep &= ~done
        pts, age, start = pts[keep], age[keep], start[keep]
        desc = {k: d[keep] for k, d in desc.items()}
        if t + length < len(grays):  # a trajectory started now can still reach L frames
            add(dense_sample(grays[t], cfg, occupied=pts[np.arange(len(age)), age]), t)
    return (np.concatenate([f[0] for f in finished]), np.concatenate([f[1] for f in finished]),
            {k: np.concatenate([f[2][k] for f in finished]) for k in desc})


def valid_trajectories(points, cfg):
    """Sec. 3.2 post-processing: a bool mask over points [n, L + 1, 2] (original-frame pixels) that keeps neither
    static trajectories (position std below ``min_spread`` in x and y), random ones (std above ``max_spread``), nor
    erratic ones (a step longer than ``jump_fraction`` of the whole length and than ``min_jump`` pixels)."""
    spread = points.std(axis=1)
    steps = np.linalg.norm(np.diff(points, axis=1), axis=-1)
    jump = (steps > cfg.jump_fraction * steps.sum(axis=1, keepdims=True)) & (steps > cfg.min_jump)
    static = np.all(spread < cfg.min_spread, axis=1)
    random = np.any(spread > cfg.max_spread, axis=1)
    return ~static & ~random & ~jump.any(axis=1)


def trajectory_shape(points):
    """Sec. 4.1: the displacement vectors of points [n, L + 1, 2], divided by their summed length: [n, 2L]."""
    d = np.diff(points, axis=1)
    total = np.linalg.norm(d, axis=-1).sum(axis=1)
    return (d.reshape(len(d), d.shape[1] * 2) / np.maximum(total, 1e-12)[:, None]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Sec. 4.2: HOG, HOF, MBH from integral histograms


def orientation_histogram(dx, dy, bins, zero_below=None):
    """Per-pixel histograms [H, W, bins (+1)] of the vectors (dx, dy) over 360 degrees: each pixel votes with its
    magnitude, split linearly between the two nearest bins (bin k is centred on k * 360 / bins degrees, image axes:
    x right, y down). With ``zero_below``, vectors no longer than it cast one vote in an extra last (zero) bin."""
    mag, ang = (a.ravel() for a in cv2.cartToPolar(dx.astype(np.float32), dy.astype(np.float32),
                                                    angleInDegrees=True))
    pos = (ang % 360.0) * (bins / 360.0)
    low = np.floor(pos).astype(int)
    upper = (pos - low) * mag  # the share of the next bin
    hist = np.zeros((mag.size, bins + (zero_below is not None)), np.float32)
    pixel = np.arange(mag.size)
    hist[pixel, low % bins] = mag - upper
    hist[pixel, (low + 1) % bins] = upper
    if zero_below is not None:
        still = mag <= zero_below
        hist[still] = 0.0
        hist[still, bins] = 1.0
    return hist.reshape(dx.shape + (hist.shape[1],))


def cell_histograms(hist, points, patch, cells):
    """Sums of ``hist`` [H, W, B] over the cells x cells cells of the N x N patch around each point (x, y) [n, 2],
    the patch shifted inside the image as in the released code: [n, cells, cells, B], from one integral histogram."""
    h, w, b = hist.shape
    if h < patch or w < patch:
        raise ZooError(f"frames of {h}x{w} pixels are smaller than the descriptor patch N = {patch}")
    integral = cv2.integral(hist, sdepth=cv2.CV_64F).reshape(h + 1, w + 1, b)
    x0 = np.clip(np.rint(points[:, 0]).astype(int) - patch // 2, 0, w - patch)
    y0 = np.clip(np.rint(points[:, 1]).astype(int) - patch // 2, 0, h - patch)
    edges = np.arange(cells + 1) * (patch // cells)
    corners = integral[(y0[:, None] + edges)[:, :, None], (x0[:, None] + edges)[:, None, :]]  # [n, c+1, c+1, B]
    return (corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]).astype(np.float32)


def _gradient(image):
    """Centred differences [-1, 0, 1] along x and y, as the released code's Sobel with aperture 1."""
    image = image.astype(np.float32)
    return cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1)


def frame_descriptors(gray, flow, points, cfg, normalize=True):
    """One frame's HOG (of ``gray``), HOF (of ``flow`` [H, W, 2]) and MBHx / MBHy (of the gradients of its x and y
    components) around ``points`` [n, 2]: {name: [n, cells * cells * bins]}. ``normalize``: add epsilon and
    L2-normalize each point's cells together (the descriptor); otherwise the raw magnitude sums."""
    b = cfg.orientations
    hists = {"hog": orientation_histogram(*_gradient(gray), b),
             "hof": orientation_histogram(flow[..., 0], flow[..., 1], b, zero_below=cfg.min_flow),
             "mbhx": orientation_histogram(*_gradient(flow[..., 0]), b),
             "mbhy": orientation_histogram(*_gradient(flow[..., 1]), b)}
    out = {}
    for name, hist in hists.items():
        v = cell_histograms(hist, points, cfg.patch, cfg.cells).reshape(len(points), cfg.cells ** 2 * hist.shape[-1])
        if normalize:
            v = np.maximum(v, 0.0) + cfg.epsilon
            v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[name] = v
    return out


# ---------------------------------------------------------------------------------------------------------------
# One video


def _gray(video):
    video = np.asarray(video)
    if video.dtype != np.uint8 or video.ndim not in (3, 4) or (video.ndim == 4 and video.shape[-1] not in (1, 3)):
        raise ZooError(f"a video must be uint8 [T, H, W, 3] (or grey [T, H, W]), got {video.dtype} {video.shape}")
    if video.ndim == 4 and video.shape[-1] == 3:
        return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video])
    return video.reshape(video.shape[:3])


def extract(video, cfg=PRESETS["paper"]):
    """Dense trajectories of one video, uint8 [T, H, W, 3] RGB (or grey [T, H, W]).

    Returns a dict of arrays with one row per kept trajectory (float32, ``frame`` int): the descriptors
    ``trajectory`` [n, 2L], ``hog``, ``hof``, ``mbhx``, ``mbhy`` (96 / 108 / 96 / 96 values with the paper's grid),
    and the trajectories themselves: ``points`` [n, L + 1, 2] (x, y in pixels of the original frame), ``frame`` [n]
    (start frame) and ``scale`` [n] (the down-scaling factor of the scale it was tracked at)."""
    gray = _gray(video)
    sizes = cfg.sizes()
    parts = []
    for s in scale_factors(*gray.shape[1:], cfg):
        size = (round(gray.shape[2] / s), round(gray.shape[1] / s))
        scaled = gray if s == 1 else np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in gray])
        points, start, per_frame = _track_scale(scaled, cfg)
        points = points * np.float32(s)
        keep = valid_trajectories(points, cfg)
        part = {"points": points[keep], "frame": start[keep], "scale": np.full(keep.sum(), s, np.float32),
                "trajectory": trajectory_shape(points[keep])}
        for name, d in per_frame.items():  # [n, L, D] -> [n, n_tau * D]: a temporal cell averages its L / n_tau frames
            d = d[keep]
            cells = d.reshape(len(d), cfg.time_cells, cfg.length // cfg.time_cells, d.shape[2]).mean(axis=2)
            part[name] = cells.reshape(len(d), sizes[name])
        parts.append(part)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _init_worker():
    cv2.setNumThreads(1)  # the pool already uses the cores, one video per process


def _extract(args):
    return extract(*args)


def extract_many(videos, cfg=PRESETS["paper"], processes=2):
    """`extract` over an iterable of videos (consumed lazily), in ``processes`` worker processes; keeps the order.
    The workers are spawned, not forked: a forked child of a process whose OpenCV (or TensorFlow) thread pools have
    run can hang on a lock copied mid-use (it did, in ``cv2.setNumThreads``); like any spawning code, a script that
    calls this needs the ``if __name__ == "__main__":`` guard."""
    if processes <= 1:
        return [extract(v, cfg) for v in videos]
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_init_worker) as pool:
        return list(pool.imap(_extract, ((v, cfg) for v in videos), chunksize=4))


# ---------------------------------------------------------------------------------------------------------------
# Sec. 5: bag of features and a linear classifier


class BagOfFeatures:
    """One k-means codebook per descriptor type; a video becomes the concatenation of its per-type histograms of
    nearest codewords, each L1-normalized then raised to ``power`` (0.5: square root). A video without trajectories
    is all zeros."""

    def __init__(self, codebook_size=4000, max_features=100_000, n_init=8, power=0.5, channels=DESCRIPTORS, seed=0):
        self.codebook_size, self.max_features, self.n_init = codebook_size, max_features, n_init
        self.power, self.channels, self.seed = power, tuple(channels), seed
        self.codebooks = {}

    def fit(self, features):
        """Cluster at most ``max_features`` descriptors per type, drawn at random from ``features`` (dicts from
        `extract`, one per training video)."""
        rng = np.random.default_rng(self.seed)
        for name in self.channels:
            x = np.concatenate([f[name] for f in features])
            if len(x) < self.codebook_size:
                raise ZooError(f"{len(x)} {name} descriptors cannot make a codebook of {self.codebook_size} words; "
                               "use more training videos or a smaller codebook_size")
            if len(x) > self.max_features:
                x = x[rng.choice(len(x), self.max_features, replace=False)]
            self.codebooks[name] = KMeans(self.codebook_size, n_init=self.n_init, random_state=self.seed).fit(x)
        return self

    def transform(self, features):
        """[videos, channels * codebook_size] float32 histograms."""
        out = np.zeros((len(features), len(self.channels), self.codebook_size), np.float32)
        for c, name in enumerate(self.channels):
            counts = [len(f[name]) for f in features]
            if sum(counts):
                words = self.codebooks[name].predict(np.concatenate([f[name] for f in features]))
                video = np.repeat(np.arange(len(features)), counts)
                np.add.at(out[:, c], (video, words), 1.0)
        out /= np.maximum(out.sum(axis=2, keepdims=True), 1.0)
        return (out ** self.power).reshape(len(features), -1)


class DenseTrajectoryClassifier:
    """Dense trajectories -> bag of features -> multinomial logistic regression (a linear classifier).

    ``fit(videos, labels)`` / ``predict_proba(videos)`` take uint8 videos [T, H, W, 3] and extract their trajectories
    in ``processes`` processes; ``fit_features`` / ``predict_proba_features`` take the dicts of `extract` (or of
    `extract_split`), so a dataset is extracted once. ``predict_proba`` columns follow ``classes_``.
    """

    def __init__(self, cfg=PRESETS["paper"], codebook_size=4000, max_features=100_000, n_init=8, C=1.0,
                 processes=2, seed=0):
        self.cfg, self.processes = cfg, processes
        self.bag = BagOfFeatures(codebook_size, max_features, n_init, seed=seed)
        self.linear = LogisticRegression(C=C, max_iter=2000)

    def fit_features(self, features, labels):
        self.linear.fit(self.bag.fit(features).transform(features), np.asarray(labels))
        self.classes_ = self.linear.classes_
        return self

    def predict_proba_features(self, features):
        return self.linear.predict_proba(self.bag.transform(features))

    def fit(self, videos, labels):
        return self.fit_features(extract_many(videos, self.cfg, self.processes), labels)

    def predict_proba(self, videos):
        return self.predict_proba_features(extract_many(videos, self.cfg, self.processes))

    def predict(self, videos):
        return self.classes_[np.argmax(self.predict_proba(videos), axis=1)]


# ---------------------------------------------------------------------------------------------------------------
# Datasets of shards


Split = collections.namedtuple("Split", "features labels ids seconds")


def read_videos(data, split, max_videos=None):
    """Yield (id, label, uint8 frames [T, H, W, 3]) for the videos of ``split`` of ``data`` (an embedded dataset's
    name or a directory of shards in the project's format), in shard order."""
    import tensorflow as tf  # imported here (with the shard format): extraction itself needs no TensorFlow

    from pipelines import datasets, records

    def decode(example):
        frames = tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3), example["frames"],
                           fn_output_signature=tf.uint8)
        return example["id"], example["label"], frames

    ds = tf.data.TFRecordDataset(datasets.video_files(data, split)).map(records.parse).map(decode)
    if max_videos is not None:
        ds = ds.take(max_videos)
    for vid, label, frames in ds.as_numpy_iterator():
        yield vid.decode(), int(label), frames


def extract_split(data, split, cfg=PRESETS["paper"], processes=2, max_videos=None):
    """Dense trajectories of every video of a split: Split(features [dicts], labels int64 [n], ids [n], seconds)."""
    ids, labels = [], []

    def videos():
        for vid, label, frames in read_videos(data, split, max_videos):
            ids.append(vid)
            labels.append(label)
            yield frames

    began = time.perf_counter()
    features = extract_many(videos(), cfg, processes)
    return Split(features, np.asarray(labels, np.int64), ids, time.perf_counter() - began)


def evaluate(data="digit-actions", cfg=PRESETS["tiny"], train_split="train", test_split="test", processes=2,
             max_videos=None, **classifier_args):
    """Extract ``train_split`` and ``test_split``, fit a `DenseTrajectoryClassifier` (``classifier_args``:
    codebook_size, max_features, n_init, C, seed) and report clip hit@1, video hit@1 and video hit@5 on the test split
    (one view per video: the clip is the whole video), with the extraction speed."""
    train = extract_split(data, train_split, cfg, processes, max_videos)
    test = extract_split(data, test_split, cfg, processes, max_videos)
    model = DenseTrajectoryClassifier(cfg, processes=processes, **classifier_args)
    model.fit_features(train.features, train.labels)
    proba = np.zeros((len(test.labels), max(train.labels.max(), test.labels.max()) + 1))
    proba[:, model.classes_] = model.predict_proba_features(test.features)  # columns by class index
    videos = len(train.labels) + len(test.labels)
    trajectories = sum(len(f["hog"]) for f in train.features + test.features)
    return {**metrics.video_metrics(proba[:, None, :], test.labels), "train_videos": len(train.labels),
            "trajectories_per_video": trajectories / videos,
            "extraction_videos_per_second": videos / (train.seconds + test.seconds)}
