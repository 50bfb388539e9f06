"""The tf.data clip pipeline over sharded SequenceExample videos.

shards -> interleaved read -> parse (frames stay JPEG strings) -> choose frame indices and keep only those JPEG
strings (training on indexed shards: the videos come from the shards' indexes, the frames are chosen first and only
their bytes read from the shard, `records.read_frames`) -> shuffle (training; the buffer holds clips' frames, not
whole videos) -> decode only those frames (in training only the crop window of each) -> one crop (random in
training, central otherwise) and optional flip for the whole clip -> batch -> scale to [0, 1] (float32 output, in
one pass, `to_unit_range`; uint8 clips are left to the model) -> prefetch, with tf.data's autotuning off
(`without_autotuning`: freeing an autotuned iterator can block for up to a minute).

Inputs (``inputs=``) for every model family:

- ``"rgb"``: clips [T, H, W, C] (or single frames [H, W, C] with ``clip_len=1, squeeze_time=True``);
- ``"flow"``: stacked optical flow [H, W, 2L] of Simonyan & Zisserman 2014, Sec. 3.1: ``flow_len`` = L
  consecutive flow fields, channels x_1, y_1, ..., x_L, y_L, in pixels; with ``subtract_mean_flow`` the mean
  displacement of each field is subtracted (Sec. 3.3, camera-motion compensation);
- ``"rgb+flow"``: ``{"rgb": clip or frame, "flow": stacked flow}``, aligned in time (the flow stack starts at the
  first RGB frame, like Eq. 1 of the paper), with the same crop and flip; a horizontal flip negates x flow.

Flow comes from the JPEG feature lists ``flow/x``, ``flow/y`` (`pipelines.flow` quantizes it); it is dequantized with
`pipelines.flow.dequantize_flow` and rescaled with the frames when they are resized, so it stays in pixels of the
frames the model sees.

Training takes one clip per video at a random temporal offset (``clips_per_video`` K: K clips per video read, each
with its own offset, crop and flip, split into separate elements before the shuffle buffer); evaluation takes
``num_clips`` evenly spaced clips and ``crops`` (1 or 3) crops per video, stacked as V = crops x num_clips views per
video, so that per-video predictions can be averaged (Karpathy et al. 2014, Sec. 4.1: clip hit@1, video hit@1, video
hit@5). Videos shorter than a clip are padded by looping their frames. With a seed every random choice is a
stateless function of (seed, video position), so the same seed gives the same batches (for the same TensorFlow
global seed: tf.data's seeded shuffles combine their seed with it, as every seeded TensorFlow op does).

Shard paths may be remote (``s3://``, ``hdfs://``, ``gs://``...): `pipelines.records.use_filesystem` registers the
file system (tensorflow-io) on first use.
"""

import os

import numpy as np
import tensorflow as tf

from pipelines import flow as flow_lib
from pipelines import records
from pipelines.datasets import ZooError

AUTOTUNE = tf.data.AUTOTUNE
plain = tf.autograph.experimental.do_not_convert  # a tf.data function traced as written
MCU = 16  # px: the widest JPEG minimum coded unit (4:2:0 and 4:2:2 chroma; 8 for 4:4:4 and gray)
INPUTS = ("rgb", "flow", "rgb+flow")


def clip_start(frame_count, span, offset_fraction):
    """First frame of a clip spanning ``span`` frames, at ``offset_fraction`` (in [0, 1]) of the free range."""
    free = tf.maximum(frame_count - tf.cast(span, tf.int64), 0)
    return tf.cast(tf.round(offset_fraction * tf.cast(free, tf.float32)), tf.int64)


def _looped(starts, length, stride, count):
    """Indices [len(starts) * length]: ``length`` frames ``stride`` apart from each start, looping over ``count``."""
    idx = tf.reshape(starts, [-1, 1]) + tf.range(length, dtype=tf.int64) * stride
    return tf.reshape(idx, [-1]) % tf.maximum(count, 1)


def frame_indices(frame_count, clip_len, stride, offset_fraction):
    """Indices of one clip: start at ``offset_fraction`` of the free range, loop videos that are too short."""
    start = clip_start(frame_count, (clip_len - 1) * stride + 1, offset_fraction)
    return _looped(start, clip_len, stride, frame_count)


def _decode(jpegs, channels):
    return tf.map_fn(lambda s: tf.io.decode_jpeg(s, channels=channels), jpegs,
                     fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))


def _resized_shape(hw, size):
    """The frame size [h, w] that makes a ``size`` crop fit, keeping the aspect ratio: unchanged when it already
    fits and the frames are at most 8/7 of the crop (C3D's 128 -> 112 ratio), else scaled to 8/7 of the crop."""
    hw = tf.cast(hw, tf.float32)
    target = tf.constant(size, tf.float32)
    need = tf.reduce_max(target / hw)  # >= 1 means the frames are too small
    too_big = tf.reduce_min(hw / target) > 8.0 / 7.0
    scale = tf.where(need >= 1.0, need, tf.where(too_big, tf.reduce_max(target * (8.0 / 7.0) / hw), 1.0))
    return tf.cast(tf.math.ceil(hw * scale), tf.int32)


def resize_for_crop(clip, size):
    """Resize [N, H, W, C] uint8 frames so that a ``size`` crop fits (see `_resized_shape`)."""
    new = _resized_shape(tf.shape(clip)[1:3], size)

    def resize():
        return tf.cast(tf.clip_by_value(tf.round(tf.image.resize(clip, new, antialias=True)), 0, 255), tf.uint8)

    return tf.cond(tf.reduce_all(new == tf.shape(clip)[1:3]), lambda: clip, resize)


def resize_flow_for_crop(flow, size):
    """Resize float flow [N, H, W, 2] (x, y in pixels) like `resize_for_crop`; the displacements scale with it."""
    hw = tf.shape(flow)[1:3]
    new = _resized_shape(hw, size)

    def resize():
        scale = tf.cast(new, tf.float32) / tf.cast(hw, tf.float32)  # (rows, columns)
        return tf.image.resize(flow, new, antialias=True) * tf.stack([scale[1], scale[0]])

    return tf.cond(tf.reduce_all(new == hw), lambda: flow, resize)


def _origin(hw, size, where):
    """(top, left) of a ``size`` crop at relative position ``where`` in [0, 1]^2 of frames of size ``hw``."""
    free = tf.cast(tf.convert_to_tensor(hw)[:2] - tf.constant(size), tf.float32)
    return tf.unstack(tf.cast(tf.round(tf.convert_to_tensor(where, tf.float32) * free), tf.int32))


def crop(clip, size, where=(0.5, 0.5)):
    """Crop [N, H, W, C] frames to ``size``; ``where`` in [0, 1]^2 is the relative (row, column) position."""
    top, left = _origin(tf.shape(clip)[1:3], size, where)
    return clip[:, top:top + size[0], left:left + size[1], :]


def center_view(frames, size):
    """What evaluation and the exported model see: resized so the crop fits, then the central ``size`` crop."""
    return crop(resize_for_crop(frames, size), size)


def _flow_values(planes):
    """Decoded flow planes uint8 [2N, h, w, 1] (N x planes, then N y planes) -> float32 fields [N, h, w, 2] (x, y)
    in pixels, dequantized by `pipelines.flow.dequantize_flow`."""
    table = tf.constant(flow_lib.dequantize_flow(np.arange(256)), tf.float32)  # the stored byte -> pixels
    return tf.gather(table, tf.cast(tf.concat(tf.split(planes, 2), axis=-1), tf.int32))


# name -> (JPEG feature lists, channels, decoded uint8 -> values, resize so that a crop fits)
_SOURCES = {"rgb": (("frames",), None, lambda frames: frames, resize_for_crop),
            "flow": (("flow_x", "flow_y"), 1, _flow_values, resize_flow_for_crop)}


def _crops(jpegs, channels, size, wheres, values, resize, window):
    """The ``size`` crops at ``wheres`` of the frames of one video, JPEG strings [N] -> a list of [N, h, w, C].

    With ``window`` (training: one random crop) and frames that need no resizing, only a window of each frame is
    decoded (`tf.io.decode_and_crop_jpeg`) and the crop sliced out of the clip: the window starts on the JPEG's MCU
    grid (`MCU` px; a window off the grid makes TensorFlow decode every row into a scratch row and copy it out,
    which cost more than decoding the whole frame on an Intel Xeon, docs/bench-pipeline.md) and keeps a column on
    each side of the crop (the chroma upsampling of an edge column reads its neighbours), so the crop is exactly
    the whole frame's (tests/test_data.py). Otherwise the frames are decoded whole, resized if needed and cropped
    (evaluation: exactly `center_view`)."""
    def whole():
        frames = resize(values(_decode(jpegs, channels)), size)
        hw = tf.shape(frames)[1:3]
        return [crop(frames, size, where(hw) if callable(where) else where) for where in wheres]

    if not window or len(wheres) > 1 or jpegs.shape[0] is None:
        return whole()
    hw = tf.image.extract_jpeg_shape(jpegs[0])[:2]

    def window():
        top, left = _origin(hw, size, wheres[0])
        # from the MCU grid at or left of the column before the crop to the column after it (none at the frame's edges)
        shift = left - tf.maximum(left - 1, 0) // MCU * MCU
        extra = tf.minimum(hw[1] - left - size[1], 1)
        box = tf.stack([top, left - shift, size[0], size[1] + shift + extra])
        frames = tf.stack([tf.io.decode_and_crop_jpeg(s, box, channels=channels) for s in tf.unstack(jpegs)])
        return [values(frames[:, :, shift:shift + size[1]])]

    return tf.cond(tf.reduce_all(_resized_shape(hw, size) == hw), window, whole)


def stack_flow(fields, subtract_mean=True):
    """[..., L, H, W, 2] flow fields -> [..., H, W, 2L] channels x_1, y_1, ..., x_L, y_L (Simonyan & Zisserman 2014,
    Eq. 1); ``subtract_mean`` removes each field's mean displacement (Sec. 3.3)."""
    if subtract_mean:
        fields -= tf.reduce_mean(fields, axis=[-3, -2], keepdims=True)
    rank = len(fields.shape)
    moved = tf.transpose(fields, list(range(rank - 4)) + [rank - 3, rank - 2, rank - 4, rank - 1])
    shape = tf.shape(moved)
    return tf.reshape(moved, tf.concat([shape[:-2], [shape[-2] * 2]], 0))


def _flip(view, name):
    """Mirror views [..., W, C] left-right; mirrored motion has its x flow negated."""
    shape = tf.shape(view)
    flipped = tf.reshape(tf.reverse(tf.reshape(view, [-1, shape[-2], shape[-1]]), axis=[1]), shape)  # fast as 3-D
    return flipped * tf.constant([-1.0, 1.0]) if name == "flow" else flipped


def _select(example, starts, *, inputs, clip_len, stride, flow_len, **_):
    """The JPEG strings of the frames (and flow fields) of the views starting at ``starts``: nothing is decoded, and
    the rest of the video is dropped here, before the shuffle buffer."""
    out = {"label": example["label"], "id": example["id"]}
    if "rgb" in inputs:
        out["frames"] = _take(example, "frames", _looped(starts, clip_len, stride, example["frame_count"]))
    if "flow" in inputs:
        idx = _looped(starts, flow_len, _flow_stride(inputs, clip_len, stride, flow_len), example["frame_count"] - 1)
        out["flow_x"], out["flow_y"] = _take(example, "flow_x", idx), _take(example, "flow_y", idx)
    return out


def _take(example, name, idx):
    """The JPEG strings ``idx`` of a video's list ``name``: gathered from the parsed record, or, for a video read
    from the shard's index (`records.index_entries`), read from the shard by byte range (`records.read_frames`)."""
    if "spans" in example:
        return records.read_frames(example["shard"], example["spans"][name], idx)
    return tf.gather(example[name], idx)


def _views(selected, wheres, flip, *, inputs, clip_len, flow_len, size, channels, window=False, **_):
    """Decode the selected frames and cut the views: for every crop position in ``wheres`` and every start, an RGB
    clip uint8 [V, T, H, W, C] and/or flow fields float32 [V, L, H, W, 2] (crops outer). ``flip``: a scalar bool
    tensor (mirror every view) or None; ``window``: see `_crops`."""
    out = {}
    for name in ("rgb", "flow"):
        if name not in inputs:
            continue
        keys, kind_channels, values, resize = _SOURCES[name]
        length = clip_len if name == "rgb" else flow_len
        jpegs = tf.concat([selected[k] for k in keys], axis=0)
        crops = _crops(jpegs, kind_channels or channels, size, wheres, values, resize, window)
        view = tf.concat([tf.reshape(c, [-1, length, size[0], size[1], c.shape[-1]]) for c in crops], axis=0)
        if flip is not None:
            view = tf.cond(flip, lambda v=view, k=name: _flip(v, k), lambda v=view: v)
        out[name] = view
    return out


def to_unit_range(tensor):
    """uint8 -> float32 ``x * (1 / 255)`` in [0, 1] (the values of ``keras.layers.Rescaling(1 / 255)``); anything
    else as it is. One pass over the values: TensorFlow's `Dequantize` (quint8, range [0, 1]) computes exactly this,
    where a cast and a scale are two passes over four bytes a value, each split across the cores: 5.9 against 18.8
    us of CPU a 112 x 112 x 3 frame (a [8, 16, 112, 112, 3] batch, 2 cores of an AMD EPYC); with the fused batch
    of `clips`, float32 clips went from 0.77-0.86 of the decode limit to 0.88-0.92 (README, "Benchmarks")."""
    if tensor.dtype != tf.uint8:
        return tensor
    return tf.raw_ops.Dequantize(input=tf.bitcast(tensor, tf.quint8), min_range=0.0, max_range=1.0,
                                 mode="MIN_COMBINED")


DTYPES = ("float32", "uint8")


def without_autotuning(ds):
    """``ds`` with tf.data's autotuning off: its AUTOTUNE parallelism is then the core count (at most 16), the value
    autotuning starts from, and its prefetch buffers grow as they empty, as with it; no autotuning thread is started.

    Why: TensorFlow 2.17 can block whoever frees an iterator with that thread for up to a minute. The thread sleeps
    between optimizations for a period that doubles up to 60 s; an iterator's destruction wakes it through a
    cancellation callback, but the callback runs before the cancellation manager marks itself cancelled
    (`CancellationManager::StartCancelWithStatus`), so the thread can find it not cancelled yet and sleep out the
    rest of its period while the destructor waits to join it. Measured: freeing the iterator of the tiny DCGAN's
    4 epochs took 4.9-5.7 s in 4 of 4 runs, 0.2-0.3 s with autotuning off (the same run 25.7-26.0 s and 19.6-23.3 s
    in all); C3D clips at the same speed either way (the pipeline of `zoo bench pipeline`'s C3D row against its
    decode limit, 12 alternating rounds twice: 0.943 and 0.935 of the limit with it, 0.931 and 0.938 without). Give
    the dataset ``tf.data.Options().autotune.enabled = True`` with ``with_options`` to have it back."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _along_longer_side(position):
    """A crop position (row, column) that moves along the longer side of frames of shape ``hw``."""
    return lambda hw: tf.cond(hw[0] > hw[1], lambda: tf.constant(position[::-1]), lambda: tf.constant(position))


def _flow_stride(inputs, clip_len, stride, flow_len):
    """The step between flow fields: ``stride`` for flow alone and for one field per RGB frame (``flow_len`` =
    ``clip_len``: the field from each frame to the next); a flow stack beside a different number of RGB frames (the
    two-stream stacking at the clip's first frame) is consecutive."""
    return stride if inputs == "flow" or flow_len == clip_len else 1


def _span(inputs, clip_len, stride, flow_len):
    """Frames a view covers: the RGB clip and/or the frames of L flow fields (L + 1 when consecutive)."""
    flow_span = (flow_len - 1) * _flow_stride(inputs, clip_len, stride, flow_len) + 2
    return max((clip_len - 1) * stride + 1 if "rgb" in inputs else 1, flow_span if "flow" in inputs else 1)


def _check_flow(files):
    """A clear error, before any batch, when the shards hold no optical flow."""
    first = next(iter(tf.data.TFRecordDataset(files[:1]).take(1)), None)
    if first is None:
        return
    lists = tf.train.SequenceExample.FromString(first.numpy()).feature_lists.feature_list
    if "flow/x" not in lists or "flow/y" not in lists:
        raise ZooError(f"{files[0]} holds no optical flow (feature lists flow/x, flow/y): ingest the videos with "
                       "flow (`zoo data ingest ... --flow farneback`) to train on flow")


def _by_ranges(files, ranges):
    """Whether training reads its clips' frames by byte range (``ranges`` of `clips`)."""
    if ranges is False or (ranges is None and any("://" in f for f in files)):
        return False
    states = {f: records.index_state(f) for f in dict.fromkeys(files)}
    stale = [f for f, state in states.items() if state == "stale"]
    if stale:
        raise ZooError(f"the index of {stale[0]} is stale (the shard changed after it was written): rebuild it with "
                       f"`zoo data index {os.path.dirname(stale[0]) or '.'}`")
    missing = [f for f, state in states.items() if state == "missing"]
    if missing and ranges:
        raise ZooError(f"{missing[0]} has no index ({records.index_path(missing[0])}): make it with `zoo data index "
                       f"{os.path.dirname(missing[0]) or '.'}`, or read whole records (ranges=False)")
    return not missing


def clips(files, *, clip_len=1, size, batch_size, training, stride=1, channels=3, flip=True, seed=None,
          num_clips=1, crops=1, squeeze_time=False, with_labels=True, with_ids=False, shuffle_buffer=256,
          drop_remainder=None, count=None, inputs="rgb", flow_len=10, subtract_mean_flow=True, clips_per_video=1,
          dtype="float32", ranges=None):
    """A batched dataset of model inputs (and int64 labels, and video ids with ``with_ids``).

    inputs "rgb": float32 clips in [0, 1], [B, T, H, W, C] ([B, H, W, C] with ``squeeze_time`` and clip_len 1);
    "flow": float32 stacked flow [B, H, W, 2 * flow_len] in pixels, the fields ``stride`` apart (1: consecutive, the
    two-stream stacking); "rgb+flow": {"rgb": ..., "flow": ...}, the flow's fields consecutive from the clip's
    first frame, or, when there are as many as frames, the field from each frame to the next (``stride`` apart).
    training: one random view per video; otherwise ``num_clips`` x ``crops`` views per video, a view axis after
    the batch axis ([B, V, ...]) when V > 1.
    clips_per_video (training): K clips of every video per epoch, each at its own random offset, crop and flip
    (repeated sampling, as PySlowFast's NUM_SAMPLES): the video's record is read and parsed once for K clips, which
    pays when clips are short against their videos. The clips meet in the shuffle buffer, not next to each other.
    dtype: of the RGB clips, "float32" (in [0, 1]) or "uint8" (0..255, a quarter of the bytes and no scaling on
    the CPU: the model scales them on its device, e.g. a first ``keras.layers.Rescaling(1 / 255)``, as Keras advises
    for preprocessing that can run with the model); flow is float32 either way.
    ranges (training): read only the bytes of the chosen frames, found in the shards' indexes (`records`), instead
    of every video's whole record; None: when the shards are local files and all have an index; True: always (an
    error names a shard without a valid index); False: never (whole records, each checked against its CRC32C).
    The same seed gives the same batches either way.
    """
    if inputs not in INPUTS:
        raise ZooError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    if dtype not in DTYPES:
        raise ZooError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if crops not in (1, 3):
        raise ZooError(f"crops must be 1 or 3, got {crops}")
    if squeeze_time and clip_len != 1:
        raise ZooError("squeeze_time needs clip_len 1")
    if not isinstance(clips_per_video, int) or clips_per_video < 1 or (clips_per_video > 1 and not training):
        raise ZooError(f"clips_per_video must be a positive integer, and 1 outside training (evaluation takes "
                       f"num_clips), got {clips_per_video!r}")
    size = tuple(int(s) for s in size)
    files = list(files)
    if not files:
        raise ZooError("no shard files given")
    records.use_filesystem(files)
    with_flow = "flow" in inputs
    if with_flow:
        _check_flow(files)
    shape = dict(inputs=inputs, clip_len=clip_len, stride=stride, flow_len=flow_len, size=size, channels=channels)
    span = _span(inputs, clip_len, stride, flow_len)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if training and _by_ranges(files, ranges):
        # the videos come from the shards' indexes, in the shards' order, as the records would (the same batches)
        read, parse = lambda shard: records.index_entries(shard, with_flow), lambda entry: entry
    else:
        read, parse = tf.data.TFRecordDataset, lambda serialized: records.parse(serialized, with_flow=with_flow)
    ds = ds.interleave(read, cycle_length=min(len(files), 8), block_length=1, num_parallel_calls=AUTOTUNE,
                       deterministic=True)
    if training:
        # One independent stateless seed per video; tf.data.Dataset.random continues across epochs. The frames are
        # chosen before the shuffle buffer, so that it holds a clip's JPEG strings, not whole videos.
        ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed).batch(2))

        def select(serialized, s):
            example = parse(serialized)
            if clips_per_video == 1:
                u = tf.random.stateless_uniform([4], seed=s)
                return _select(example, clip_start(example["frame_count"], span, u[0]), **shape), u
            u = tf.random.stateless_uniform([clips_per_video, 4], seed=s)
            selected = _select(example, clip_start(example["frame_count"], span, u[:, 0]), **shape)
            # one element per clip (the dataset is unbatched below): frame lists [K, length], label and id repeated
            return {k: tf.reshape(v, [clips_per_video, -1]) if k in ("frames", "flow_x", "flow_y")
                    else tf.fill([clips_per_video], v) for k, v in selected.items()}, u

        def view(selected, u):
            return selected, _views(selected, [u[1:3]], (u[3] < 0.5) if flip else None, window=True, **shape)
    else:
        fractions = np.linspace(0.0, 1.0, num_clips) if num_clips > 1 else [0.5]
        # Three crops along the longer side (Simonyan & Zisserman style) or one central crop.
        wheres = ([_along_longer_side(p) for p in ((0.5, 0.0), (0.5, 0.5), (0.5, 1.0))] if crops == 3
                  else [(0.5, 0.5)])

        def select(serialized):
            example = parse(serialized)
            return _select(example, clip_start(example["frame_count"], span, tf.constant(fractions, tf.float32)),
                           **shape)

        def view(selected):
            return selected, _views(selected, wheres, None, **shape)

    # The map functions branch on tensors with tf.cond only, so autograph's rewrite of them is skipped: it cost
    # 1.7 s at a process's first pipeline (every `zoo train`), for the same graph (the same batches, measured).
    ds = ds.map(plain(select), num_parallel_calls=AUTOTUNE)
    if training and clips_per_video > 1:
        ds = ds.unbatch()
    if count is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(count * (clips_per_video if training else 1)))
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def finish(example, views):
        x = {}
        if "rgb" in views:
            x["rgb"] = views["rgb"]  # uint8 until batched: 4x fewer bytes to batch
            if squeeze_time:
                x["rgb"] = tf.squeeze(x["rgb"], axis=-4)
        if "flow" in views:
            x["flow"] = stack_flow(views["flow"], subtract_mean_flow)
        if training or num_clips * crops == 1:
            x = {k: v[0] for k, v in x.items()}  # no view axis
        out = (x if inputs == "rgb+flow" else x[inputs],)
        if with_labels:
            out += (example["label"],)
        if with_ids:
            out += (example["id"],)
        return out if len(out) > 1 else out[0]

    ds = ds.map(plain(lambda *a: finish(*view(*a))), num_parallel_calls=AUTOTUNE)
    # A batch without parallel calls of its own: tf.data then fuses it with the map above (map_and_batch_fusion),
    # whose threads copy each clip into its batch as they make it, still in cache: 1-3 us of CPU a frame less than
    # a parallel batch, +0.01-0.02 of the decode limit for uint8 and float32 clips, C3D's and one a video (three
    # runs of 5 alternating rounds, 2 cores of an AMD EPYC).
    ds = ds.batch(batch_size, drop_remainder=training if drop_remainder is None else drop_remainder)
    if dtype == "float32":
        ds = ds.map(plain(lambda *batch: tf.nest.map_structure(to_unit_range, batch if len(batch) > 1 else batch[0])),
                    num_parallel_calls=AUTOTUNE)
    return without_autotuning(ds.prefetch(AUTOTUNE))
