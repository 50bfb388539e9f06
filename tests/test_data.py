"""Embedded data: real digits, deterministic bytes, the on-disk format, and the clip pipeline."""

import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

from pipelines import datasets, embedded, records, video

SMALL = dict(frames=8, size=32, train=2, val=1, test=1, shards=2)


def _digest(directory):
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            h.update(name.encode() + f.read())
    return h.hexdigest()


def test_mnist_is_the_real_stratified_split():
    x_train, y_train, x_test, y_test = embedded.mnist()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert np.all(np.bincount(y_train) == 400) and np.all(np.bincount(y_test) == 100)
    # real handwriting: the class means differ and every image has ink
    assert x_train.dtype == np.uint8 and np.all(x_train.reshape(4000, -1).max(axis=1) > 100)
    means = np.stack([x_train[y_train == c].mean(0) for c in range(10)])
    assert np.min([np.abs(means[a] - means[b]).mean() for a in range(10) for b in range(a)]) > 5


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, monkeypatch):
    digests = []
    for sub, seed in (("a", 0), ("b", 0), ("c", 1)):
        monkeypatch.setenv("ZOO_DATA", str(tmp_path / sub))
        digests.append(_digest(datasets.video_dir("digit-actions", progress=False, seed=seed, **SMALL)))
    assert digests[0] == digests[1] != digests[2]


def test_digit_actions_format_and_meta(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    directory = datasets.video_dir("digit-actions", progress=False, **SMALL)
    meta = records.read_meta(directory)
    assert meta["classes"] == list(embedded.DIGIT_ACTIONS_CLASSES) and meta["flip"] is False
    assert meta["splits"]["train"] == {"videos": 20, "frames": 160, "shards": 2}
    files = datasets.video_files("digit-actions", "train", **SMALL)
    assert [os.path.basename(f) for f in files] == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    raw = next(iter(tf.data.TFRecordDataset(files[0])))
    ex = tf.train.SequenceExample.FromString(raw.numpy())
    ctx = ex.context.feature
    assert ctx["video/frame_count"].int64_list.value[0] == 8
    label = ctx["clip/label/index"].int64_list.value[0]
    assert ctx["clip/label/text"].bytes_list.value[0].decode() == embedded.DIGIT_ACTIONS_CLASSES[label]
    jpegs = ex.feature_lists.feature_list["image/encoded"].feature
    assert len(jpegs) == 8 and tf.io.decode_jpeg(jpegs[0].bytes_list.value[0]).shape == (32, 32, 3)
    counts = np.bincount([int(y) for _, y in video.clips(files, clip_len=4, size=(32, 32), batch_size=1,
                                                         training=False).unbatch()], minlength=10)
    assert np.all(counts == 2)  # every class, equally often


def test_one_frame_carries_no_label_statistics():
    """Position, orientation and scale are uniform in every frame of every class: per-class statistics of a
    single frame (ink centroid on the torus, ink amount) do not separate the classes; over time they do."""
    x_train = embedded.mnist()[0]
    rng = np.random.default_rng(0)
    ink, motion = {}, {}
    for c in range(10):
        vids = np.stack([embedded.digit_action(c, rng, x_train, frames=16) for _ in range(60)]).astype(float)
        frame = vids[:, 7].mean(-1)
        ink[c] = (frame > 60).mean(axis=(1, 2))
        motion[c] = np.abs(np.diff(vids.mean(-1), axis=1)).mean(axis=(1, 2, 3))
    ink_means = np.array([ink[c].mean() for c in range(10)])
    ink_se = max(ink[c].std() / np.sqrt(60) for c in range(10))
    assert np.ptp(ink_means) < 6 * ink_se  # single-frame ink: no class effect beyond noise
    # over time the classes separate: frame differences of translations exceed those of "stay" (pixel noise only)
    stay_se = motion[9].std() / np.sqrt(60)
    assert min(motion[c].mean() for c in range(4)) > motion[9].mean() + 10 * stay_se


def test_moving_mnist_bounces_inside_the_frame():
    digits = embedded.mnist()[0]
    a = embedded.moving_mnist(4, 0, digits)
    assert a.shape == (4, 20, 64, 64) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, embedded.moving_mnist(4, 0, digits))
    assert not np.array_equal(a, embedded.moving_mnist(4, 1, digits))
    assert np.all(a.reshape(4, 20, -1).max(-1) > 100)  # digits always visible
    assert np.mean(np.abs(np.diff(a.astype(float), axis=1))) > 1  # and moving


def test_frame_indices_stride_offset_and_looping():
    idx = video.frame_indices(tf.constant(32, tf.int64), 8, 2, 1.0).numpy()
    np.testing.assert_array_equal(idx, np.arange(17, 32, 2))
    short = video.frame_indices(tf.constant(5, tf.int64), 8, 1, 0.7).numpy()
    np.testing.assert_array_equal(short, [0, 1, 2, 3, 4, 0, 1, 2])  # padded by looping


@pytest.fixture(scope="module")
def train_files():
    return datasets.video_files("digit-actions", "train", **SMALL)


def test_training_pipeline_is_deterministic_with_a_seed(train_files):
    def first(seed):
        ds = video.clips(train_files, clip_len=4, size=(28, 28), batch_size=5, training=True, seed=seed)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(2)]

    a, b, c = first(3), first(3), first(4)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))
    assert a[0][0].shape == (5, 4, 28, 28, 3) and a[0][0].dtype == np.float32 and 0 <= a[0][0].min() <= 1


def test_several_clips_per_video_read(train_files):
    """clips_per_video=K: every video gives K clips per epoch, each its own offset, crop and flip; the same seed gives
    the same clips; one clip per video is what it was."""
    def epoch(k, seed=3):
        ds = video.clips(train_files, clip_len=4, size=(28, 28), batch_size=1, training=True, seed=seed,
                         with_ids=True, clips_per_video=k, shuffle_buffer=1, count=20)
        assert ds.cardinality().numpy() == 20 * k
        return [(x.numpy()[0], y.numpy()[0], i.numpy()[0]) for x, y, i in ds]

    once, twice = epoch(1), epoch(2)
    assert len(once) == 20 and len(twice) == 40
    ids = [i for _, _, i in twice]
    assert all(ids.count(i) == 2 for i in set(ids)) and len(set(ids)) == 20
    pairs = {}
    for x, y, i in twice:
        pairs.setdefault(i, []).append((x, y))
    assert all(a[1] == b[1] for a, b in pairs.values())  # the same video's label
    differ = sum(not np.array_equal(a[0], b[0]) for a, b in pairs.values())
    # two different views of (nearly) every video: the two clips of one video have the same start, crop and flip
    # with probability 1 / 1450, so a few equal pairs are possible under some global seed; more mean a bug
    assert differ >= 18
    for (xa, _, _), (xb, _, _) in zip(twice, epoch(2)):
        np.testing.assert_array_equal(xa, xb)
    with pytest.raises(datasets.ZooError, match="clips_per_video"):
        video.clips(train_files, clip_len=4, size=(28, 28), batch_size=1, training=False, clips_per_video=2)


def test_uint8_clips_scaled_by_the_model_give_the_float_pipeline_s_predictions(train_files):
    """dtype="uint8": the same clips as the float32 output, unscaled (a quarter of the bytes, no scaling on the CPU);
    a model with keras.layers.Rescaling(1 / 255) first predicts on them what the model predicts on the float
    clips."""
    import keras

    kw = dict(clip_len=4, size=(28, 28), batch_size=5, training=True, seed=3)
    (xf, yf), = video.clips(train_files, **kw).take(1)
    (xu, yu), = video.clips(train_files, dtype="uint8", **kw).take(1)
    assert xu.dtype == tf.uint8 and xf.dtype == tf.float32 and int(tf.reduce_max(xu)) > 1
    np.testing.assert_array_equal(yu, yf)
    np.testing.assert_array_equal(keras.layers.Rescaling(1 / 255)(xu), xf)  # the same values, to the bit
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 28, 28, 3)), keras.layers.Conv3D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(3)])
    on_device = keras.Sequential([keras.Input((4, 28, 28, 3), dtype="uint8"), keras.layers.Rescaling(1 / 255),
                                  model])
    np.testing.assert_allclose(on_device(xu), model(xf), rtol=1e-5, atol=1e-6)
    with pytest.raises(datasets.ZooError, match="dtype must be one of float32, uint8"):
        video.clips(train_files, dtype="float16", **kw)


def test_to_unit_range_is_v_times_one_255th():
    """`video.to_unit_range` (the float32 clips' scaling): every uint8 value v -> float32 v * (1 / 255) exactly, 0
    and 255 to 0 and 1, at most one float32 step from v / 255 (some values differ by one), in any shape; other
    dtypes pass through unchanged."""
    values = np.arange(256, dtype=np.uint8)
    scaled = video.to_unit_range(tf.constant(values.reshape(2, 2, 4, 4, 4))).numpy().reshape(-1)
    assert scaled.dtype == np.float32 and (scaled[0], scaled[-1]) == (0.0, 1.0)
    np.testing.assert_array_equal(scaled, values.astype(np.float32) * np.float32(1 / 255))
    nearest = (values / 255.0).astype(np.float32)  # v / 255 rounded to float32 (a cast and a division)
    assert (np.abs(scaled - nearest) <= np.spacing(nearest)).all() and (scaled != nearest).any()
    flow = tf.constant([[-1.5, 2.0]])
    assert video.to_unit_range(flow) is flow and video.to_unit_range(tf.constant([3], tf.int64)).dtype == tf.int64


def test_the_flip_on_the_model_s_device_is_the_pipeline_s_flip(train_files, tmp_path):
    """zoo.layers.RandomClipFlip, for clips read with flip=False: every clip comes out whole or mirrored as a whole,
    as the pipeline's flip gives them, about half of them mirrored, new coins each batch; at inference, and after a
    .keras round trip, the clips pass through unchanged (and stay uint8)."""
    import keras

    from zoo.layers import RandomClipFlip

    kw = dict(clip_len=4, size=(28, 28), batch_size=5, training=True, seed=3, dtype="uint8")
    (plain, _), = video.clips(train_files, flip=False, **kw).take(1)
    (piped, _), = video.clips(train_files, flip=True, **kw).take(1)  # the same windows, some mirrored
    plain, piped = plain.numpy(), piped.numpy()
    mirror = plain[..., ::-1, :]

    def whole_or_mirrored(out, x, m):
        return [bool((o == a).all()) - bool((o == b).all()) for o, a, b in zip(out, x, m)]  # 1 same, -1 mirrored

    assert 0 not in whole_or_mirrored(piped, plain, mirror)
    layer = RandomClipFlip(seed=0)
    x = np.concatenate([plain] * 80)  # 400 clips
    first, second = (np.asarray(layer(x, training=True)) for _ in range(2))
    kinds = whole_or_mirrored(first, x, np.concatenate([mirror] * 80))
    assert 0 not in kinds and 0.4 < kinds.count(-1) / len(kinds) < 0.6, kinds.count(-1)
    assert not np.array_equal(first, second)  # new coins for the next batch
    model = keras.Sequential([keras.Input(plain.shape[1:], dtype="uint8"), RandomClipFlip(seed=0)])
    model.save(tmp_path / "flip.keras")
    back = keras.saving.load_model(tmp_path / "flip.keras", safe_mode=True)
    for m in (model, back):
        out = m(plain)
        assert out.dtype == tf.uint8 and np.array_equal(out, plain)
    assert back.layers[0].get_config()["seed"] == 0
    with pytest.raises(ValueError, match="RandomClipFlip takes"):
        layer(np.zeros((2, 3, 3), "uint8"), training=True)


@pytest.mark.parametrize("channels", [3, 1])
def test_the_training_window_is_the_crop_of_the_whole_frame_at_every_offset(channels):
    """The training window (decoded from the MCU grid left of the crop to a column after it, the extra columns sliced
    off) is exactly the crop of the whole decoded frame at every position, on and off the 16 px grid: RGB JPEGs with
    4:2:0 chroma (16 px MCUs, the chroma upsampling of an edge column reads its neighbours) and grey ones (flow
    planes, 8 px MCUs). Measured on this texture: a window of the crop's own columns (the earlier code) left an edge
    column up to 39 levels off, a window from the grid without the column of margin on each side 35."""
    rng = np.random.default_rng(0)
    # frames 48 x 120 for a 44 x 44 crop, as 128 x 228 for 112 x 112: the short side within 8/7, so not resized
    smooth = tf.image.resize(rng.uniform(0, 255, (3, 12, 30, channels)), (48, 120)).numpy()  # textured
    jpegs = tf.constant([tf.io.encode_jpeg(f.astype(np.uint8), quality=90).numpy() for f in smooth])
    whole = np.stack([tf.io.decode_jpeg(j, channels=channels).numpy() for j in jpegs.numpy()]).astype(int)
    identity = lambda frames: frames
    for top in range(48 - 44 + 1):
        for left in range(120 - 44 + 1):
            where = (top / 4, left / 76)
            window, = video._crops(jpegs, channels, (44, 44), [where], identity, video.resize_for_crop, window=True)
            assert window.shape == (3, 44, 44, channels)
            diff = np.abs(window.numpy().astype(int) - whole[:, top:top + 44, left:left + 44]).max()
            assert diff == 0, (top, left, diff)


def test_the_zoo_s_datasets_run_without_tf_data_autotuning(train_files):
    """TensorFlow 2.17 can block the release of an autotuned iterator for up to a minute (`video.without_autotuning`;
    tests/test_learning.py::test_freeing_fit_s_iterator_does_not_stall measures it): the datasets the zoo trains and
    evaluates on have autotuning off, and a user's own options turn it back on."""
    from zoo.training import data as zdata

    built = [video.clips(train_files, clip_len=4, size=(28, 28), batch_size=2, training=t) for t in (True, False)]
    built.append(zdata.image_dataset("mnist", "test", 8, training=True, labels=True, seed=0))
    assert [ds.options().autotune.enabled for ds in built] == [False, False, False]
    on = tf.data.Options()
    on.autotune.enabled = True
    assert built[0].with_options(on).options().autotune.enabled is True
    assert next(iter(built[0]))[0].shape == (2, 4, 28, 28, 3)  # and it delivers


def test_evaluation_views_and_center_crop(train_files):
    ds = video.clips(train_files, clip_len=4, size=(28, 28), batch_size=2, training=False, num_clips=3, crops=3)
    x, y = next(iter(ds))
    assert x.shape == (2, 9, 4, 28, 28, 3)
    # the middle crop of the single-clip view equals the centre view of the same frames
    one = next(iter(video.clips(train_files, clip_len=4, size=(28, 28), batch_size=2, training=False)))[0]
    mid = video.clips(train_files, clip_len=4, size=(28, 28), batch_size=2, training=False, num_clips=1, crops=3)
    np.testing.assert_array_equal(next(iter(mid))[0][:, 1], one)


def test_digit_actions_order_is_motion_a_then_motion_b():
    """The long-range variant: every ordered pair of two translations, each motion first in three classes and second
    in three others; measured on noise-free renders by phase correlation (circular, so wrapping is fine)."""
    import cv2

    pairs, classes = embedded.DIGIT_ORDER_PAIRS, embedded.DIGIT_ORDER_CLASSES
    assert len(classes) == 12 and len(set(pairs)) == 12
    for move in embedded.DIGIT_ACTIONS_CLASSES[:4]:
        assert sum(a == move for a, _ in pairs) == 3 and sum(b == move for _, b in pairs) == 3
    direction = {"translate-right": (1, 0), "translate-left": (-1, 0), "translate-up": (0, -1),
                 "translate-down": (0, 1)}
    digits = embedded.mnist()[0]
    rng = np.random.default_rng(0)
    for label, (first, second) in enumerate(pairs):
        video = embedded.digit_order(label, rng, digits, frames=48, noise=0.0).mean(-1).astype(np.float32)
        shifts = np.array([cv2.phaseCorrelate(video[t], video[t + 1])[0] for t in range(47)])  # (dx, dy)
        # (the static distractor digit pulls the correlation peak towards 0: thresholds below the 1-2 px speed)
        for shift, move in ((shifts[:14].mean(0), first), (shifts[-14:].mean(0), second)):
            along = np.dot(shift, direction[move])
            across = abs(np.dot(shift, direction[move][::-1]))
            assert along > 0.4 and along > 2 * across, (label, move, shift)
    assert datasets.info("digit-actions-order").num_classes == 12


def test_an_epoch_takes_k_clips_of_every_video(tmp_path):
    """`zoo train --clips-per-video K`: K times the steps per epoch, recorded in the run's config."""
    import json

    import keras

    from zoo.training import run

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.count = 0

        def on_train_batch_end(self, batch, logs=None):
            self.count += 1

    data = datasets.video_dir("digit-actions", progress=False, **SMALL)  # 20 training videos
    counted = {}
    for k in (1, 2):
        steps = Steps()
        run_dir = run.train("c3d", data, epochs=1, batch_size=4, run_dir=str(tmp_path / f"k{k}"), verbose=0,
                            callbacks=(steps,), clips_per_video=k)
        counted[k] = steps.count
        assert json.load(open(tmp_path / f"k{k}" / "config.json"))["clips_per_video"] == k
    assert counted == {1: 5, 2: 10}


def test_digit_poses_are_seeded_and_cover_every_pose_and_place():
    """The posed frames of the pretraining (`embedded.digit_poses`): the same seed gives the same bytes; poses (12
    angle bins x 3 scale bins) and places (4 x 4 cells) are uniform, every one of them drawn."""
    digits = embedded.mnist()[0]
    frames, pose, place = embedded.digit_poses(1800, 0, digits)
    again = embedded.digit_poses(1800, 0, digits)
    np.testing.assert_array_equal(frames, again[0])
    np.testing.assert_array_equal(pose, again[1])
    assert frames.shape == (1800, 32, 32, 3) and frames.dtype == np.uint8
    for labels, n in ((pose, 36), (place, 16)):
        counts = np.bincount(labels, minlength=n)
        assert len(counts) == n and counts.min() > 0.5 * len(labels) / n  # 50 and 112 a class on average
    assert not np.array_equal(frames, embedded.digit_poses(1800, 1, digits)[0])
