"""Non-neural baselines: dense trajectories (Wang et al. 2013) with a bag of features and a linear classifier."""

from zoo.features.dense_trajectories import (BagOfFeatures, Config, DenseTrajectoryClassifier, config, evaluate,
                                             extract, extract_many, extract_split, read_videos)

__all__ = ["BagOfFeatures", "Config", "DenseTrajectoryClassifier", "config", "evaluate", "extract", "extract_many",
           "extract_split", "read_videos"]
