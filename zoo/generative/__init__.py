"""Unsupervised and generative models: one file per paper. Importing this package registers them."""

from zoo.generative import vae  # noqa: F401
