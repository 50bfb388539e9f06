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
    """Write records to ``path`` atomically; returns the number of records."""
    use_filesystem(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    n = 0
    with tf.io.TFRecordWriter(tmp) as w:
        for s in serialized_examples:
            w.write(s)
            n += 1
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return n


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
