"""The on-disk video format: sharded TFRecord files of `tf.train.SequenceExample`, one per video.

Context features                     Feature lists (one entry per frame)
  video/id          bytes              image/encoded   JPEG bytes
  video/fps         float              flow/x, flow/y  JPEG bytes (optional; flow quantized with a +-20 bound)
  video/frame_count int64
  video/height      int64
  video/width       int64
  clip/label/index  int64 (-1: unlabelled)
  clip/label/text   bytes

This is the TF Model Garden / DMVR convention; a dataset directory holds ``{split}-{i:05d}-of-{n:05d}.tfrecord``
shards and a ``meta.json`` with the class names, splits and how the data was made. Shards are written atomically
(a temporary name, then a rename), so a crash never leaves a half-written shard under its final name.

Beside each shard, ``SHARD.index`` (a TFRecord file of `tf.train.Example`, one per video, in the shard's order) says
where every frame's bytes lie in the shard, so that training can read a clip's frames without reading its whole
video (`read_frames`; `pipelines.video.clips` uses it when every shard has one):

  video/id, video/frame_count, clip/label/index   as in the shard
  shard/bytes                                     the shard's size when the index was written (a stale index fails)
  image/encoded/offset, image/encoded/length      int64 per frame: where its JPEG bytes lie in the shard file
  flow/x/..., flow/y/...                          the same for the flow planes, when the shard has them

`write_shard` writes the index with the shard (renamed into place first, so a finished shard always has one);
`write_index` makes one for a shard written without it (`zoo data index DIR`).
"""

import json
import os

import numpy as np
import tensorflow as tf

try:
    from zoo.errors import ZooError
except ImportError:  # pipelines is usable on its own
    ZooError = ValueError

from pipelines.videoio import encode_jpeg  # the JPEG encoder lives with the TensorFlow-free ingest worker code

META = "meta.json"


def use_filesystem(paths):
    """Make `tf.io.gfile` able to open ``paths`` (a path or a list of them). TensorFlow itself knows local files and
    gs://; s3://, hdfs://, az://, http(s):// and others come from tensorflow-io, imported here on first need (its S3
    file system makes the interpreter abort at exit: see `zoo.cli.main`)."""
    schemes = {p.split("://", 1)[0] for p in ([paths] if isinstance(paths, str) else paths) if "://" in p}
    missing = schemes - set(tf.io.gfile.get_registered_schemes())
    if missing:
        import tensorflow_io  # noqa: F401  (registers its file systems)

        missing -= set(tf.io.gfile.get_registered_schemes())
    if missing:
        raise ZooError(f"no file system for {', '.join(sorted(s + '://' for s in missing))}; known: "
                       f"{', '.join(sorted(s + '://' for s in tf.io.gfile.get_registered_schemes() if s))}")


def video_example(frames, *, label, video_id, fps, label_text="", quality=90, flow=None):
    """A SequenceExample for one video. frames: uint8 [T, H, W, 3]; flow: optional (x, y), each uint8 [T-1, H, W] as
    made by `pipelines.flow.quantize_flow`."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, C], got {frames.dtype} {frames.shape}")
    want = (len(frames) - 1,) + frames.shape[1:3]
    if flow is not None and any(np.asarray(p).dtype != np.uint8 or np.shape(p) != want for p in flow):
        raise ValueError(f"flow must be (x, y) quantized planes, uint8 {want} each, got "
                         f"{[(np.asarray(p).dtype.name, np.shape(p)) for p in flow]}")
    flow = None if flow is None else [[encode_jpeg(p[..., None], quality) for p in planes] for planes in flow]
    return sequence_example([encode_jpeg(f, quality) for f in frames], height=frames.shape[1], width=frames.shape[2],
                            label=label, video_id=video_id, fps=fps, label_text=label_text, flow=flow)


def sequence_example(jpegs, *, height, width, label, video_id, fps, label_text="", flow=None):
    """A serialized SequenceExample from JPEG-encoded frames; flow: optional (x, y) lists of JPEG-encoded planes."""
    ex = tf.train.SequenceExample()
    ctx = ex.context.feature
    ctx["video/id"].bytes_list.value.append(str(video_id).encode())
    ctx["video/fps"].float_list.value.append(float(fps))
    ctx["video/frame_count"].int64_list.value.append(len(jpegs))
    ctx["video/height"].int64_list.value.append(height)
    ctx["video/width"].int64_list.value.append(width)
    ctx["clip/label/index"].int64_list.value.append(int(label))
    ctx["clip/label/text"].bytes_list.value.append(str(label_text).encode())
    for key, values in [("image/encoded", jpegs)] + ([] if flow is None else list(zip(("flow/x", "flow/y"), flow))):
        feature_list = ex.feature_lists.feature_list[key]
        for value in values:
            feature_list.feature.add().bytes_list.value.append(value)
    return ex.SerializeToString()


def shard_name(split, index, count):
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def write_shard(path, serialized_examples):
    """Write records to ``path`` atomically, and its index (`index_path`); returns the number of records."""
    use_filesystem(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with tf.io.TFRecordWriter(tmp) as w:
        def written():
            for s in serialized_examples:
                w.write(s)
                yield s

        places, size = _places(written())
    _write_index(path, places, size)
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return len(places)


# ------------------------------------------------------------------------------------------------ the frame index

RECORD_HEADER, RECORD_FOOTER = 12, 4  # a TFRecord: length (8 bytes) and its CRC (4), the data, the data's CRC (4)
LISTS = {"frames": "image/encoded", "flow_x": "flow/x", "flow_y": "flow/y"}  # parsed name -> feature list


def index_path(shard):
    return shard + ".index"


def _varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf, start, end):
    """(field number, start, end) of every length-delimited field of the protobuf message in ``buf[start:end]``."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 2:
            size, pos = _varint(buf, pos)
            yield key >> 3, pos, pos + size
            pos += size
        elif wire == 0:
            pos = _varint(buf, pos)[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"not a protobuf message (wire type {wire} at byte {pos})")


def frame_spans(serialized):
    """{feature list name: [(offset, length) of each entry's bytes in ``serialized``]} of a serialized
    SequenceExample, read off the protobuf wire format: SequenceExample.feature_lists (field 2) -> map entries (1) of
    key (1) and FeatureList (2) -> Feature (1) -> BytesList (1) -> value (1). Every entry must hold one bytes value."""
    spans = {}
    for number, start, end in _fields(serialized, 0, len(serialized)):
        if number != 2:
            continue
        for _, entry_start, entry_end in _fields(serialized, start, end):
            parts = {n: (a, b) for n, a, b in _fields(serialized, entry_start, entry_end)}
            key = bytes(serialized[slice(*parts[1])]).decode()
            items = spans[key] = []
            for _, feature_start, feature_end in _fields(serialized, *parts.get(2, (0, 0))):
                values = [(a, b - a) for n, s, e in _fields(serialized, feature_start, feature_end) if n == 1
                          for _, a, b in _fields(serialized, s, e)]
                if len(values) != 1:
                    raise ValueError(f"feature list {key!r} has an entry with {len(values)} bytes values, not one")
                items += values
    return spans


def _place(serialized, offset):
    """What the index says of one record that starts at byte ``offset`` of its shard."""
    context = tf.train.SequenceExample.FromString(serialized).context.feature
    spans = frame_spans(serialized)
    return {"video/id": context["video/id"].bytes_list.value[0],
            "video/frame_count": context["video/frame_count"].int64_list.value[0],
            "clip/label/index": (context["clip/label/index"].int64_list.value or [-1])[0],
            **{f"{key}/{what}": [offset + a if what == "offset" else n for a, n in spans[key]]
               for key in LISTS.values() if key in spans for what in ("offset", "length")}}


def _places(serialized_examples):
    """The index's entries of records that lie back to back from the start of a shard (`_place`), and its size."""
    places, offset = [], 0
    for s in serialized_examples:
        places.append(_place(s, offset + RECORD_HEADER))
        offset += RECORD_HEADER + len(s) + RECORD_FOOTER
    return places, offset


def _write_index(shard, places, shard_bytes):
    """Write ``index_path(shard)`` atomically from the records' places (`_place`)."""
    path = index_path(shard)
    tmp = f"{path}.tmp-{os.getpid()}"
    with tf.io.TFRecordWriter(tmp) as w:
        for place in places:
            ex = tf.train.Example()
            for key, value in {**place, "shard/bytes": shard_bytes}.items():
                if isinstance(value, bytes):
                    ex.features.feature[key].bytes_list.value.append(value)
                else:
                    ex.features.feature[key].int64_list.value.extend(value if isinstance(value, list) else [value])
            w.write(ex.SerializeToString())
    tf.io.gfile.rename(tmp, path, overwrite=True)


def write_index(shard):
    """Write the index of a shard written without one (or after it); returns the number of records."""
    use_filesystem(shard)
    places, size = _places(record.numpy() for record in tf.data.TFRecordDataset(shard))
    _write_index(shard, places, size)
    return len(places)


def write_indexes(shards):
    """Write the index of every shard of ``shards`` whose index is missing or stale (`index_state`); returns
    {shard: its number of records} of those written."""
    return {shard: write_index(shard) for shard in shards if index_state(shard) != "ok"}


def index_state(shard):
    """The state of a shard's index: "ok", "missing" or "stale" (the shard's size is not the one it was written
    for)."""
    path = index_path(shard)
    if not tf.io.gfile.exists(path):
        return "missing"
    first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    if first is None:
        return "ok" if tf.io.gfile.stat(shard).length == 0 else "stale"
    written = tf.train.Example.FromString(first.numpy()).features.feature["shard/bytes"].int64_list.value
    return "ok" if list(written) == [tf.io.gfile.stat(shard).length] else "stale"


def index_entries(shard, with_flow=False):
    """A dataset of a shard's videos from its index, without reading the shard: {"id", "label", "frame_count",
    "shard", "spans": {name: (offsets, lengths)}} for the frames (and flow planes), the names of `LISTS`."""
    names = ["frames"] + (["flow_x", "flow_y"] if with_flow else [])
    spec = {**CONTEXT,  # the index repeats these three of the record's context
            **{f"{LISTS[n]}/{what}": tf.io.RaggedFeature(tf.int64) for n in names for what in ("offset", "length")}}

    def entry(serialized):
        f = tf.io.parse_single_example(serialized, spec)
        return {"id": f["video/id"], "label": f["clip/label/index"], "frame_count": f["video/frame_count"],
                "shard": shard,
                "spans": {n: (f[f"{LISTS[n]}/offset"], f[f"{LISTS[n]}/length"]) for n in names}}

    return tf.data.TFRecordDataset(index_path(shard)).map(entry)


def read_frames(shard, spans, idx):
    """The entries ``idx`` of a feature list whose (offsets, lengths) in ``shard`` are ``spans``, as strings, from one
    read of the bytes from the first to the last of them (tensorflow-io's ranged file read, through TensorFlow's
    file systems). The record's CRC32C is not checked (only a part of the record is read)."""
    from tensorflow_io.python.ops import core_ops

    offsets, lengths = tf.gather(spans[0], idx), tf.gather(spans[1], idx)
    first = tf.reduce_min(offsets)
    data = core_ops.io_file_read(shard, first, tf.reduce_max(offsets + lengths) - first, compression="")
    return tf.strings.substr(data, offsets - first, lengths)


def write_meta(directory, meta):
    use_filesystem(directory)
    tmp = os.path.join(directory, META + ".tmp")
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(json.dumps(meta, indent=2, sort_keys=True))
    tf.io.gfile.rename(tmp, os.path.join(directory, META), overwrite=True)


def read_meta(directory):
    use_filesystem(directory)
    path = os.path.join(directory, META)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def shard_files(directory, split):
    use_filesystem(directory)
    files = sorted(tf.io.gfile.glob(os.path.join(directory, f"{split}-*-of-*.tfrecord")))
    return files


CONTEXT = {
    "video/id": tf.io.FixedLenFeature([], tf.string),
    "video/frame_count": tf.io.FixedLenFeature([], tf.int64),
    "clip/label/index": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}


def parse(serialized, with_flow=False):
    """Parse one serialized SequenceExample into a dict; frames stay JPEG strings (nothing is decoded here)."""
    seq = {"image/encoded": tf.io.FixedLenSequenceFeature([], tf.string)}
    if with_flow:
        seq["flow/x"] = tf.io.FixedLenSequenceFeature([], tf.string)
        seq["flow/y"] = tf.io.FixedLenSequenceFeature([], tf.string)
    ctx, fl = tf.io.parse_single_sequence_example(serialized, context_features=CONTEXT, sequence_features=seq)
    out = {"id": ctx["video/id"], "label": ctx["clip/label/index"], "frames": fl["image/encoded"],
           "frame_count": tf.shape(fl["image/encoded"], out_type=tf.int64)[0]}
    if with_flow:
        out["flow_x"], out["flow_y"] = fl["flow/x"], fl["flow/y"]
    return out
