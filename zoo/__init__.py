"""A Keras 3 / TensorFlow zoo of classic video-understanding and unsupervised-learning models."""

from zoo.errors import ZooError
from zoo.registry import build, list_models, model_info, register, resolve

__all__ = ["ZooError", "build", "list_models", "model_info", "register", "resolve"]
