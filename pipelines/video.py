"""The tf.data clip pipeline over sharded SequenceExample videos.

shards -> interleaved read -> shuffle (training) -> parse (frames stay JPEG strings) -> choose frame indices ->
decode only those frames -> one crop (random in training, central otherwise) and optional flip for the whole clip ->
scale to [0, 1] -> batch -> prefetch.

Training takes one clip per video at a random temporal offset; evaluation takes ``num_clips`` evenly spaced clips
and ``crops`` (1 or 3) crops per video, shaped [num_clips * crops, T, H, W, C] per video, so that per-video
predictions can be averaged (Karpathy et al. 2014, Sec. 4.1: clip hit@1, video hit@1, video hit@5). Videos shorter
than a clip are padded by looping their frames. With a seed every random choice is a stateless function of
(seed, video position), so the same seed gives the same batches.
"""

import tensorflow as tf

from pipelines import records

AUTOTUNE = tf.data.AUTOTUNE


def frame_indices(frame_count, clip_len, stride, offset_fraction):
    """Indices of one clip: start at ``offset_fraction`` of the free range, loop videos that are too short."""
    span = tf.cast((clip_len - 1) * stride + 1, tf.int64)
    free = tf.maximum(frame_count - span, 0)
    start = tf.cast(tf.round(offset_fraction * tf.cast(free, tf.float32)), tf.int64)
    return (start + tf.range(clip_len, dtype=tf.int64) * stride) % tf.maximum(frame_count, 1)


def _decode(jpegs, channels):
    return tf.map_fn(lambda s: tf.io.decode_jpeg(s, channels=channels), jpegs,
                     fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))


def resize_for_crop(clip, size):
    """Resize [N, H, W, C] frames so that a ``size`` crop fits, keeping the aspect ratio; no-op when it already fits
    and the frames are at most 8/7 of the crop (C3D's 128 -> 112 ratio)."""
    hw = tf.cast(tf.shape(clip)[1:3], tf.float32)
    target = tf.constant(size, tf.float32)
    need = tf.reduce_max(target / hw)  # >= 1 means the frames are too small
    too_big = tf.reduce_min(hw / target) > 8.0 / 7.0
    scale = tf.where(need >= 1.0, need, tf.where(too_big, tf.reduce_max(target * (8.0 / 7.0) / hw), 1.0))
    new = tf.cast(tf.math.ceil(hw * scale), tf.int32)

    def resize():
        return tf.cast(tf.clip_by_value(tf.round(tf.image.resize(clip, new, antialias=True)), 0, 255), tf.uint8)

    return tf.cond(tf.reduce_all(new == tf.shape(clip)[1:3]), lambda: clip, resize)


def crop(clip, size, where=(0.5, 0.5)):
    """Crop [N, H, W, C] frames to ``size``; ``where`` in [0, 1]^2 is the relative (row, column) position."""
    h, w = tf.shape(clip)[1], tf.shape(clip)[2]
    top = tf.cast(tf.round(where[0] * tf.cast(h - size[0], tf.float32)), tf.int32)
    left = tf.cast(tf.round(where[1] * tf.cast(w - size[1], tf.float32)), tf.int32)
    return clip[:, top:top + size[0], left:left + size[1], :]


def center_view(frames, size):
    """What evaluation and the exported model see: resized so the crop fits, then the central ``size`` crop."""
    return crop(resize_for_crop(frames, size), size)


def _train_clip(example, seed, clip_len, stride, size, channels, flip):
    u = tf.random.stateless_uniform([4], seed=seed)
    idx = frame_indices(example["frame_count"], clip_len, stride, u[0])
    clip = resize_for_crop(_decode(tf.gather(example["frames"], idx), channels), size)
    clip = tf.reshape(crop(clip, size, u[1:3]), [clip_len, size[0], size[1], channels])
    if flip:
        clip = tf.cond(u[3] < 0.5, lambda: tf.reverse(clip, axis=[2]), lambda: clip)
    return clip


def _eval_clips(example, clip_len, stride, size, channels, num_clips, crops):
    fractions = tf.linspace(0.0, 1.0, num_clips) if num_clips > 1 else tf.constant([0.5])
    idx = tf.reshape(tf.map_fn(lambda f: frame_indices(example["frame_count"], clip_len, stride, f), fractions,
                               fn_output_signature=tf.int64), [-1])
    frames = resize_for_crop(_decode(tf.gather(example["frames"], idx), channels), size)
    # Three crops along the longer side (Simonyan & Zisserman style) or one central crop.
    wheres = [(0.5, 0.0), (0.5, 0.5), (0.5, 1.0)] if crops == 3 else [(0.5, 0.5)]
    hw = tf.shape(frames)[1:3]
    views = []
    for r, c in wheres:
        where = tf.cond(hw[0] > hw[1], lambda: tf.constant((c, r)), lambda: tf.constant((r, c)))
        views.append(tf.reshape(crop(frames, size, where), [num_clips, clip_len, size[0], size[1], channels]))
    return tf.concat(views, axis=0)


def clips(files, *, clip_len, size, batch_size, training, stride=1, channels=3, flip=True, seed=None,
          num_clips=1, crops=1, squeeze_time=False, with_labels=True, with_ids=False, shuffle_buffer=256,
          drop_remainder=None, count=None):
    """A batched dataset of float32 clips in [0, 1] (and int64 labels).

    training: one random clip per video, shape [B, T, H, W, C]; otherwise ``num_clips`` x ``crops`` views per
    video, shape [B, V, T, H, W, C] (or [B, T, H, W, C] when V == 1). ``squeeze_time`` drops the time axis of
    single-frame clips (clip_len 1) for frame models.
    """
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    if squeeze_time and clip_len != 1:
        raise ValueError("squeeze_time needs clip_len 1")
    size = tuple(int(s) for s in size)
    files = list(files)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8), block_length=1,
                       num_parallel_calls=AUTOTUNE, deterministic=True)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(records.parse, num_parallel_calls=AUTOTUNE)
    if count is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(count))

    if training:
        # One independent stateless seed per element; tf.data.Dataset.random continues across epochs.
        ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed).batch(2))

        def view(example, s):
            return example, _train_clip(example, s, clip_len, stride, size, channels, flip)
    else:
        def view(example):
            v = _eval_clips(example, clip_len, stride, size, channels, num_clips, crops)
            return example, (v[0] if num_clips * crops == 1 else v)

    def finish(example, clip):
        clip = tf.cast(clip, tf.float32) / 255.0
        if squeeze_time:
            clip = tf.squeeze(clip, axis=-4)
        out = (clip,)
        if with_labels:
            out += (example["label"],)
        if with_ids:
            out += (example["id"],)
        return out if len(out) > 1 else out[0]

    ds = ds.map(lambda *a: finish(*view(*a)), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training if drop_remainder is None else drop_remainder,
                  num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
