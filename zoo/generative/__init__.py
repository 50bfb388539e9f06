"""Unsupervised and generative models: one file per paper. Importing this package registers them."""

from zoo.generative import autoencoder  # noqa: F401
from zoo.generative import dcgan  # noqa: F401
from zoo.generative import deepsim  # noqa: F401
from zoo.generative import gan  # noqa: F401
from zoo.generative import lapgan  # noqa: F401
from zoo.generative import rbm  # noqa: F401
from zoo.generative import vae  # noqa: F401
