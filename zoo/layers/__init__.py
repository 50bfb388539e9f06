"""Custom layers of the zoo; every one is registered for `.keras` serialization (no Lambda layers anywhere)."""

from zoo.layers.augment import RandomClipFlip
from zoo.layers.convgru import ConvGRU2D, ConvGRU2DCell
from zoo.layers.flow import FlowImages
from zoo.layers.grouped import GroupedConv2D, GroupedConv3D
from zoo.layers.ji import HardwiredFeatures, Subsampling
from zoo.layers.maxout import Maxout
from zoo.layers.normalization import LocalResponseNormalization
from zoo.layers.padding import CircularPadding2D
from zoo.layers.temporal import CombinePredictions, PerStep
from zoo.layers.tied import DenseTranspose, tie_layers

__all__ = [
    "CircularPadding2D",
    "CombinePredictions",
    "ConvGRU2D",
    "ConvGRU2DCell",
    "DenseTranspose",
    "FlowImages",
    "GroupedConv2D",
    "GroupedConv3D",
    "HardwiredFeatures",
    "LocalResponseNormalization",
    "Maxout",
    "PerStep",
    "RandomClipFlip",
    "Subsampling",
    "tie_layers",
]
