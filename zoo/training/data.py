"""The tf.data input of a zoo model on a named dataset: shapes, channels and classes are checked here, once."""

import gc

import tensorflow as tf

from pipelines import datasets, video
from zoo.errors import ZooError


def release_iterators():
    """Free the tf.data iterator a Keras ``fit``, ``evaluate`` or ``predict`` leaves behind; call right after it.

    Keras 3.15's epoch iterator and its ``_enumerate_iterator`` generator refer to each other, so the iterator
    inside outlives the call until Python's cyclic garbage collector runs, often minutes later, holding its buffers
    and threads. Freeing an autotuned iterator could also block for up to a minute in TensorFlow 2.17, at whatever
    moment the collector ran (26 s for a tiny run's iterator freed 100 s after ``fit``; 20-47 s stalls inside the
    test suite): the zoo's datasets now run without autotuning (`pipelines.video.without_autotuning`), which
    removes that wait, and this call still frees the iterator at a known point."""
    gc.collect()


def model_input(model):
    """The model's per-example input shape (without the batch axis); a dict of them for multi-input models.
    A generative model that ``needs_labels`` (class-conditional) takes {"images": ..., "labels": one-hot}."""
    if getattr(model, "needs_labels", False):
        return {"images": model.image_shape, "labels": (model.num_classes,)}
    if not (hasattr(model, "inputs") and model.inputs):
        return model.image_shape
    if isinstance(model.input, dict):
        return {k: tuple(v.shape[1:]) for k, v in model.input.items()}
    return tuple(model.inputs[0].shape[1:])


def fold_views(x, model):
    """[B, V, ...] evaluation views (or a dict of them) -> [B * V, ...] model inputs."""
    shape = model_input(model)
    if isinstance(shape, dict):
        return {k: tf.reshape(v, [-1, *shape[k]]) for k, v in x.items()}
    return tf.reshape(x, [-1, *shape])


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
    if getattr(model, "needs_labels", False) and data_info.num_classes != model.num_classes:
        raise ZooError(f"{info.name!r} is conditioned on {model.num_classes} classes but {data_info.name!r} has "
                       f"{data_info.num_classes or 'no'} labels: set num_classes to match or use labelled data")
    if model is not None and info.input == "image":
        shape = model_input(model)
        shape = shape["images"] if isinstance(shape, dict) else shape
        if data_info.shape and any(d not in (None, s) for d, s in zip(data_info.shape, shape)):
            raise ZooError(f"{info.name!r} takes images of shape {tuple(shape)} but {data_info.name!r} has "
                           f"{tuple(data_info.shape)}: set height/width/channels to match")


def image_shape(model):
    """The (H, W, C) of an image model's images (a class-conditional one also takes labels)."""
    shape = model_input(model)
    return tuple(shape["images"] if isinstance(shape, dict) else shape)


def image_dataset(name, split, batch_size, training, labels, seed=None, shape=None):
    """Batches of images scaled to [0, 1] (and labels); ``shape``: the size a folder of images is read at."""
    x, y = datasets.image_arrays(name, split, shape)
    ds = tf.data.Dataset.from_tensor_slices((x, y) if labels else x)
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def scale(*a):
        return (tf.cast(a[0], tf.float32) / 255.0,) + a[1:] if labels else tf.cast(a[0], tf.float32) / 255.0

    ds = ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return video.without_autotuning(ds)  # no stall when its iterator is freed


def dataset(info, model, data, split, batch_size, training, seed=None, num_clips=1, crops=1, with_ids=False,
            stride=1, clips_per_video=1):
    """Batches for ``model`` (registered as ``info``) from dataset ``data``; ``stride`` between clip frames;
    ``clips_per_video`` training clips from every video read (`pipelines.video.clips`)."""
    data_info = datasets.info(data)
    if data_info.kind == "image":
        if clips_per_video != 1:
            raise ZooError(f"{data!r} holds images: clips per video apply to video datasets")
        if getattr(model, "needs_labels", False):  # a class-conditional generative model
            ds = image_dataset(data, split, batch_size, training, labels=True, seed=seed, shape=image_shape(model))
            return ds.map(lambda x, y: {"images": x, "labels": tf.one_hot(y, model.num_classes)})
        return image_dataset(data, split, batch_size, training, labels=info.task == "classification", seed=seed,
                             shape=image_shape(model))
    shape = model_input(model)
    kw = dict(inputs="rgb", clip_len=1, squeeze_time=True)
    if info.input == "clip":
        (h, w, c), kw = shape[1:], dict(inputs="rgb", clip_len=shape[0])
    elif info.input == "frame":
        h, w, c = shape
    elif info.input == "flow":
        (h, w, two_l), c = shape, 3
        kw = dict(inputs="flow", flow_len=two_l // 2)
    else:  # rgb+flow: one RGB frame (or a clip) and the stacked flow that starts with it
        (h, w, c), kw["inputs"], kw["flow_len"] = shape["rgb"][-3:], "rgb+flow", shape["flow"][-1] // 2
        if len(shape["rgb"]) == 4:
            kw.update(clip_len=shape["rgb"][0], squeeze_time=False)
    return video.clips(datasets.video_files(data, split), size=(h, w), channels=c, batch_size=batch_size,
                       training=training, flip=data_info.flip, seed=seed, stride=stride, num_clips=num_clips,
                       crops=crops, with_ids=with_ids, count=datasets.split_size(data, split),
                       clips_per_video=clips_per_video, **kw)
