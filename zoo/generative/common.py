"""Small pieces every generative model of the zoo uses (one place, not a copy per model)."""

import json

import keras
import tensorflow as tf


def images_of(data):
    """The images of a batch that may also hold labels or sample weights."""
    return data[0] if isinstance(data, (tuple, list)) else data


def to_uint8(images):
    """Images in [0, 1] -> uint8."""
    return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)


def submodels_config(**models):
    """The serialized sub-models of a model that wraps them, for its `get_config`."""
    return {key: keras.saving.serialize_keras_object(model) for key, model in models.items()}


def with_submodels(config, *keys):
    """A model's config with its serialized sub-models ``keys`` deserialized, for its `from_config`."""
    return {**config, **{key: keras.saving.deserialize_keras_object(config[key]) for key in keys}}


def plain(config):
    """A plain-dict copy of a config (Keras wraps dict attributes in tracking proxies)."""
    return json.loads(json.dumps(config))
