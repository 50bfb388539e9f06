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

import cv2
import numpy as np
import tensorflow as tf

META = "meta.json"


def encode_jpeg(image, quality=90):
    """uint8 [H, W, 3] RGB (or [H, W, 1]) -> JPEG bytes (deterministic: libjpeg-turbo through OpenCV)."""
    if image.ndim == 3 and image.shape[-1] == 3:
        image = image[..., ::-1]  # OpenCV wants BGR
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def video_example(frames, *, label, video_id, fps, label_text="", quality=90, flow=None):
    """A SequenceExample for one video. frames: uint8 [T, H, W, 3]; flow: optional (x, y) uint8 [T-1, H, W] each."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, C], got {frames.dtype} {frames.shape}")
    ex = tf.train.SequenceExample()
    ctx = ex.context.feature
    ctx["video/id"].bytes_list.value.append(str(video_id).encode())
    ctx["video/fps"].float_list.value.append(float(fps))
    ctx["video/frame_count"].int64_list.value.append(len(frames))
    ctx["video/height"].int64_list.value.append(frames.shape[1])
    ctx["video/width"].int64_list.value.append(frames.shape[2])
    ctx["clip/label/index"].int64_list.value.append(int(label))
    ctx["clip/label/text"].bytes_list.value.append(str(label_text).encode())
    images = ex.feature_lists.feature_list["image/encoded"]
    for f in frames:
        images.feature.add().bytes_list.value.append(encode_jpeg(f, quality))
    if flow is not None:
        for key, planes in zip(("flow/x", "flow/y"), flow):
            fl = ex.feature_lists.feature_list[key]
            for p in planes:
                fl.feature.add().bytes_list.value.append(encode_jpeg(p[..., None], quality))
    return ex.SerializeToString()


def shard_name(split, index, count):
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def write_shard(path, serialized_examples):
    """Write records to ``path`` atomically; returns the number of records."""
    tmp = f"{path}.tmp-{os.getpid()}"
    n = 0
    with tf.io.TFRecordWriter(tmp) as w:
        for s in serialized_examples:
            w.write(s)
            n += 1
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return n


def write_meta(directory, meta):
    tmp = os.path.join(directory, META + ".tmp")
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(json.dumps(meta, indent=2, sort_keys=True))
    tf.io.gfile.rename(tmp, os.path.join(directory, META), overwrite=True)


def read_meta(directory):
    path = os.path.join(directory, META)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def shard_files(directory, split):
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
