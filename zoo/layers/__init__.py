"""Custom layers of the zoo; every one is registered for `.keras` serialization (no Lambda layers anywhere)."""

from zoo.layers.ji import HardwiredFeatures, Subsampling
from zoo.layers.normalization import LocalResponseNormalization

__all__ = ["HardwiredFeatures", "LocalResponseNormalization", "Subsampling"]
