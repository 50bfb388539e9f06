"""The clip pipeline's flow inputs (Simonyan & Zisserman 2014, Sec. 3) on shards written here from synthetic videos
whose motion is known exactly: a texture translated by D_t between frames t and t+1."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import flow as flow_lib
from pipelines import records, video
from pipelines.datasets import ZooError

H, W, T, L, SIZE = 36, 48, 12, 4, (32, 32)  # at most 8/7 of the crop: the frames are not resized
TIME_STEP = 20  # the blue channel of frame t is 20 t: it tells which frame a view shows
STEP = 2 * flow_lib.BOUND / 255  # one quantization step of stored flow (JPEG may move a constant plane by one)


def displacements(n):
    """D_t = (x, y) in pixels between frames t and t+1: integer, different for every t."""
    t = np.arange(n)
    return np.stack([t % 7 - 3, 2 - t % 5], axis=1)


def texture(seed, h=H, w=W):
    """A smooth random texture, uint8 [h, w] (no symmetry: a crop and its mirror image differ)."""
    noise = np.random.default_rng(seed).uniform(0, 1, (h, w))
    spectrum = np.fft.fft2(noise) * np.exp(-0.15 * (np.fft.fftfreq(h)[:, None] ** 2 * h * h +
                                                     np.fft.fftfreq(w)[None] ** 2 * w * w))
    smooth = np.real(np.fft.ifft2(spectrum))
    return np.round(255 * (smooth - smooth.min()) / np.ptp(smooth)).astype(np.uint8)


def translating_video(seed):
    """Frames uint8 [T, H, W, 3] (red, green: two textures moving by D_t; blue: 20 t) and the quantized flow."""
    red, green = texture(seed), texture(seed + 100)
    offsets = np.concatenate([[[0, 0]], np.cumsum(displacements(T - 1), axis=0)])
    frames = np.stack([np.stack([np.roll(red, (dy, dx), (0, 1)), np.roll(green, (dy, dx), (0, 1)),
                                 np.full((H, W), TIME_STEP * t, np.uint8)], axis=-1)
                       for t, (dx, dy) in enumerate(offsets)])
    d = displacements(T - 1).astype(np.float32)
    planes = [flow_lib.quantize_flow(np.broadcast_to(d[:, k, None, None], (T - 1, H, W))) for k in (0, 1)]
    return frames, planes


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flow")
    path = str(directory / records.shard_name("train", 0, 1))
    videos = [translating_video(seed) for seed in range(6)]
    records.write_shard(path, (records.video_example(f, label=i, video_id=f"v{i}", fps=25.0, flow=p)
                               for i, (f, p) in enumerate(videos)))
    return [path], videos


def window(image, targets):
    """(flipped, top, left) of the best match of ``targets`` {flipped: view un-mirrored} inside ``image``."""
    h, w = targets[False].shape[:2]
    errors = {(flipped, top, left): np.abs(image[top:top + h, left:left + w] - target).mean()
              for flipped, target in targets.items()
              for top in range(image.shape[0] - h + 1) for left in range(image.shape[1] - w + 1)}
    best = min(errors, key=errors.get)
    assert errors[best] < 8, f"view not found (mean error {errors[best]:.1f} levels)"
    return best


def locate(view, frames):
    """(t, flipped, top, left) of an RGB view [h, w, 3] in [0, 1] within ``frames``: the frame by its blue level,
    then the crop window and mirroring by the best match of the textures."""
    t = int(round(view[..., 2].mean() * 255 / TIME_STEP))
    textures = view[..., :2] * 255
    return (t,) + window(frames[t, ..., :2].astype(float), {False: textures, True: textures[:, ::-1]})


def expected_stack(t, flipped):
    """[2L] expected channels x_t, y_t, ..., x_{t+L-1}, y_{t+L-1} of a translation, as stored (quantized)."""
    d = flow_lib.dequantize_flow(flow_lib.quantize_flow(displacements(T - 1)[t:t + L].astype(np.float32)))
    if flipped:
        d = d * [-1, 1]
    return d.reshape(-1)


def test_stacked_flow_of_a_translation_with_and_without_mean_subtraction(shards):
    files, videos = shards
    # 4 clips of each of the 6 videos: 24 samples, so that mirrored and plain ones both occur whatever TensorFlow's
    # global seed (set or not by the tests that ran before in this process)
    common = dict(clip_len=1, size=SIZE, batch_size=6, training=True, seed=0, inputs="rgb+flow", flow_len=L,
                  squeeze_time=True, clips_per_video=4)
    batches = zip(video.clips(files, subtract_mean_flow=False, **common), video.clips(files, **common))
    flips = samples = 0
    for (raw, labels), (sub, _) in batches:
        assert raw["rgb"].shape == (6, 32, 32, 3) and raw["flow"].shape == (6, 32, 32, 2 * L)
        for i, label in enumerate(labels.numpy()):
            frames = videos[label][0]
            t, flipped, _, _ = locate(raw["rgb"][i].numpy(), frames)
            flips, samples = flips + flipped, samples + 1
            # without subtraction every pixel carries the displacements D_t .. D_t+L-1 of the RGB frame's time t
            # (x negated when the sample is mirrored): RGB and flow are aligned in time and flipped together
            np.testing.assert_allclose(raw["flow"][i].numpy(),
                                       np.broadcast_to(expected_stack(t, flipped), (32, 32, 2 * L)), atol=1.1 * STEP)
            # with the mean displacement subtracted (Sec. 3.3) a pure translation leaves nothing
            assert np.abs(sub["flow"][i].numpy()).max() < STEP
            np.testing.assert_array_equal(sub["rgb"][i], raw["rgb"][i])  # same seed: same views
    assert samples == 24 and 0 < flips < samples  # both mirrored and plain samples were checked


def test_flow_crop_and_flip_align_with_the_rgb_crop(tmp_path):
    """Flow planes that carry the red texture itself: the flow view must be the same window as the RGB view."""
    frames, _ = translating_video(7)
    red = frames[..., 0]
    planes = (red[:-1], np.full((T - 1, H, W), 128, np.uint8))
    path = str(tmp_path / "a.tfrecord")
    records.write_shard(path, [records.video_example(frames, label=0, video_id="a", fps=25.0, flow=planes)] * 8)
    ds = video.clips([path], clip_len=1, size=SIZE, batch_size=24, training=True, seed=1, inputs="rgb+flow",
                     flow_len=1, squeeze_time=True, subtract_mean_flow=False, clips_per_video=3)
    (x, _), = ds  # 24 samples: mirrored and plain ones whatever TensorFlow's global seed
    rgb, fx = x["rgb"].numpy(), x["flow"].numpy()[..., 0]
    as_stored = lambda v: (v + flow_lib.BOUND) / STEP  # x flow in pixels -> the stored byte, here the red level
    mirrored = 0
    for rgb_view, fx_view in zip(rgb, fx):
        t, *where = locate(rgb_view, frames)
        # the flow view is the same window of the same time, mirrored with it (and then negated)
        assert window(red[t].astype(float), {False: as_stored(fx_view), True: as_stored(-fx_view)[:, ::-1]}) == \
            tuple(where)
        mirrored += where[0]
    assert len(rgb) == 24 and 0 < mirrored < 24


def test_flow_is_rescaled_with_frames_that_must_grow(shards):
    files, _ = shards
    (x, _), = video.clips(files, clip_len=1, size=(60, 60), batch_size=6, training=False, inputs="flow",
                               flow_len=L, subtract_mean_flow=False).take(1)
    assert x.shape == (6, 60, 60, 2 * L)
    scale = np.array([80 / 48, 60 / 36])  # frames 36x48 grow to 60x80: the displacements grow likewise
    centre = video.clip_start(T, L + 1, 0.5).numpy()
    want = (expected_stack(centre, False).reshape(L, 2) * scale).reshape(-1)
    np.testing.assert_allclose(x.numpy()[:, 30, 30], np.broadcast_to(want, (6, 2 * L)), atol=1.1 * STEP * scale[0])


def test_evaluation_views_of_flow_and_rgb_flow_pairs(shards):
    files, _ = shards
    ds = video.clips(files, clip_len=3, size=SIZE, batch_size=2, training=False, num_clips=2, crops=3,
                     inputs="rgb+flow", flow_len=L)
    x, _ = next(iter(ds))
    assert x["rgb"].shape == (2, 6, 3, 32, 32, 3) and x["flow"].shape == (2, 6, 32, 32, 2 * L)
    # the 2 clips start at the first and the last possible frame: their first RGB frames are 0 and T - (L + 1)
    blue = np.round(x["rgb"].numpy()[..., 0, :, :, 2].mean(axis=(-1, -2)) * 255 / TIME_STEP)
    np.testing.assert_array_equal(blue, np.tile([0, T - L - 1], (2, 3)))
    flow_only = next(iter(video.clips(files, size=SIZE, batch_size=2, training=False, inputs="flow", flow_len=L,
                                      num_clips=2, crops=3)))[0]
    np.testing.assert_array_equal(flow_only, x["flow"])



def stack_at(fields):
    """[2 len(fields)] expected channels of the translation's stored flow fields ``fields`` (indices)."""
    return flow_lib.dequantize_flow(flow_lib.quantize_flow(displacements(T - 1)[fields].astype(np.float32))).reshape(-1)


def test_flow_fields_a_frame_step_apart(shards):
    """Flow alone with ``stride`` S: L fields S apart (a recurrent model over a long video, e.g. LRCN-flow), the
    first view at field 0, the last one ending at the last field; stacked beside a shorter RGB clip (two-stream), the
    flow stays consecutive; one field per RGB frame (Beyond Short Snippets' flow stream), each frame's own field."""
    files, _ = shards
    common = dict(size=SIZE, batch_size=6, training=False, num_clips=2, subtract_mean_flow=False, flow_len=L)
    x, labels = next(iter(video.clips(files, inputs="flow", stride=2, **common)))
    assert x.shape == (6, 2, 32, 32, 2 * L)
    for view, first in enumerate((0, T - 2 - 2 * (L - 1))):  # fields 0, 2, 4, 6 and 4, 6, 8, 10 (of T - 1 = 11)
        want = stack_at(np.arange(first, first + 2 * L, 2))
        np.testing.assert_allclose(x[:, view].numpy(), np.broadcast_to(want, (6, 32, 32, 2 * L)), atol=1.1 * STEP)
    pair, _ = next(iter(video.clips(files, inputs="rgb+flow", clip_len=3, stride=2, **common)))
    blue = np.round(pair["rgb"].numpy()[:, :, 0, ..., 2].mean(axis=(-1, -2)) * 255 / TIME_STEP)
    np.testing.assert_array_equal(blue, np.tile([0, T - 5], (6, 1)))  # the clip covers 5 frames, as does the flow
    for view, first in enumerate((0, T - 5)):
        want = stack_at(np.arange(first, first + L))
        np.testing.assert_allclose(pair["flow"][:, view].numpy(), np.broadcast_to(want, (6, 32, 32, 2 * L)),
                                   atol=1.1 * STEP)
    per_frame, _ = next(iter(video.clips(files, inputs="rgb+flow", clip_len=L, stride=2, **common)))
    blue = np.round(per_frame["rgb"].numpy()[..., :, :, 2].mean(axis=(-1, -2)) * 255 / TIME_STEP)  # [6, 2, L]
    for view, first in enumerate((0, T - 2 - 2 * (L - 1))):  # frames 0, 2, 4, 6 (their fields), then 4 .. 10
        np.testing.assert_array_equal(blue[:, view], np.tile(np.arange(first, first + 2 * L, 2), (6, 1)))
        want = stack_at(np.arange(first, first + 2 * L, 2))
        np.testing.assert_allclose(per_frame["flow"][:, view].numpy(), np.broadcast_to(want, (6, 32, 32, 2 * L)),
                                   atol=1.1 * STEP)

def test_flow_needs_shards_with_flow(tmp_path):
    path = str(tmp_path / "noflow.tfrecord")
    records.write_shard(path, [records.video_example(np.zeros((4, 8, 8, 3), np.uint8), label=0, video_id="a",
                                                     fps=25.0)])
    with pytest.raises(ZooError, match="holds no optical flow"):
        video.clips([path], size=(8, 8), batch_size=1, training=False, inputs="flow")
    with pytest.raises(ZooError, match="inputs must be one of"):
        video.clips([path], size=(8, 8), batch_size=1, training=False, inputs="depth")


def test_stack_flow_channel_order():
    fields = tf.constant(np.arange(3 * 2 * 2 * 2, dtype=np.float32).reshape(3, 2, 2, 2))  # [L, H, W, (x, y)]
    stacked = video.stack_flow(fields, subtract_mean=False).numpy()
    assert stacked.shape == (2, 2, 6)
    np.testing.assert_array_equal(stacked[1, 0], [fields[k, 1, 0, c] for k in range(3) for c in range(2)])
