"""The tf.data input of a zoo model on a named dataset: shapes, channels and classes are checked here, once."""

import tensorflow as tf

from pipelines import datasets, video
from zoo.errors import ZooError


def model_input(model):
    """The model's per-example input shape (without the batch axis)."""
    return tuple(model.inputs[0].shape[1:]) if hasattr(model, "inputs") and model.inputs else model.image_shape


def check(info, data_info, model=None, num_classes=None):
    """Raise a ZooError when model ``info`` cannot be trained or evaluated on dataset ``data_info``."""
    wanted = "image" if info.input == "image" else "video"
    if data_info.kind != wanted:
        raise ZooError(f"{info.name!r} needs {wanted} data but {data_info.name!r} holds {data_info.kind}s")
    if info.task == "classification":
        if not data_info.num_classes:
            raise ZooError(f"{data_info.name!r} has no labels; {info.name!r} is a classifier")
        if num_classes is not None and num_classes != data_info.num_classes:
            raise ZooError(f"the model has {num_classes} classes but {data_info.name!r} has "
                           f"{data_info.num_classes}: drop the num_classes override or use matching data")
    if model is not None and info.input == "image":
        shape = model_input(model)
        if data_info.shape and tuple(shape) != tuple(data_info.shape):
            raise ZooError(f"{info.name!r} takes images of shape {tuple(shape)} but {data_info.name!r} has "
                           f"{tuple(data_info.shape)}: set height/width/channels to match")


def image_dataset(name, split, batch_size, training, labels, seed=None):
    x, y = datasets.image_arrays(name, split)
    ds = tf.data.Dataset.from_tensor_slices((x, y) if labels else x)
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def scale(*a):
        return (tf.cast(a[0], tf.float32) / 255.0,) + a[1:] if labels else tf.cast(a[0], tf.float32) / 255.0

    return ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def dataset(info, model, data, split, batch_size, training, seed=None, num_clips=1, crops=1, with_ids=False):
    """Batches for ``model`` (registered as ``info``) from dataset ``data``."""
    data_info = datasets.info(data)
    if data_info.kind == "image":
        return image_dataset(data, split, batch_size, training, labels=info.task == "classification", seed=seed)
    shape = model_input(model)
    if info.input == "clip":
        clip_len, (h, w, c), squeeze = shape[0], shape[1:], False
    else:
        clip_len, (h, w, c), squeeze = 1, shape, True
    return video.clips(datasets.video_files(data, split), clip_len=clip_len, size=(h, w), channels=c,
                       batch_size=batch_size, training=training, flip=data_info.flip, seed=seed,
                       num_clips=num_clips, crops=crops, squeeze_time=squeeze and num_clips * crops == 1,
                       with_ids=with_ids, count=datasets.split_size(data, split))
