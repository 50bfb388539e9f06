"""Clip- and video-level classification metrics of Karpathy et al. 2014, Sec. 4.1.

Clip hit@1 counts every clip on its own; video hit@k averages the class probabilities of all clips (and crops) of
a video and asks whether the true class is among the k most probable.
"""

import numpy as np


def hit_at_k(probabilities, labels, k):
    topk = np.argsort(-probabilities, axis=-1)[:, :k]
    return float(np.mean(np.any(topk == np.asarray(labels)[:, None], axis=1)))


def video_metrics(view_probabilities, labels):
    """view_probabilities [videos, views, classes], labels [videos] -> clip hit@1, video hit@1, video hit@5."""
    p = np.asarray(view_probabilities, np.float64)
    labels = np.asarray(labels)
    v, n, c = p.shape
    clip_hit1 = hit_at_k(p.reshape(v * n, c), np.repeat(labels, n), 1)
    video = p.mean(axis=1)
    return {"clip_hit@1": clip_hit1, "video_hit@1": hit_at_k(video, labels, 1),
            "video_hit@5": hit_at_k(video, labels, min(5, c)), "videos": int(v), "views_per_video": int(n)}


def confusion_matrix(predicted, labels, num_classes):
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predicted)), 1)
    return m
