"""The two special layers of Ji, Xu, Yang, Yu, "3D Convolutional Neural Networks for Human Action Recognition",
ICML 2010 / TPAMI 2013, Section 3.1 and Figure 3.

`HardwiredFeatures` (layer H1) turns T RGB frames into five channels: gray (T frames), gradient-x and gradient-y
(T frames each; central differences), and optical flow x and y (T-1 fields). The paper computes flow offline and
does not name the algorithm; here it is Lucas-Kanade over a w x w window, in the graph, so the exported model needs
nothing but frames:

    [sum Ix^2   sum IxIy] [u]     [sum IxIt]
    [sum IxIy   sum Iy^2] [v] = - [sum IyIt]     Ix, Iy: gradients of the mean of both frames, It = I1 - I0.

`Subsampling` is the LeNet-style subsampling the paper uses (S3, S5): the average over non-overlapping p x p
blocks of each feature map, times a trainable coefficient, plus a trainable bias, one pair per map (the paper's
92 and 156 parameters).
"""

import keras
import tensorflow as tf

GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma


def _gradients(gray):
    """Central differences (zero at the borders) of [N, H, W, 1] images: (d/dx, d/dy)."""
    gx = tf.pad((gray[:, :, 2:] - gray[:, :, :-2]) / 2.0, [[0, 0], [0, 0], [1, 1], [0, 0]])
    gy = tf.pad((gray[:, 2:] - gray[:, :-2]) / 2.0, [[0, 0], [1, 1], [0, 0], [0, 0]])
    return gx, gy


def lucas_kanade(prev, nxt, window=5, eps=1e-3):
    """Dense Lucas-Kanade flow between [N, H, W, 1] gray images; returns (u, v) in pixels per frame."""
    ix, iy = _gradients((prev + nxt) / 2.0)
    it = nxt - prev
    box = tf.ones([window, window, 1, 1], prev.dtype)

    def wsum(a):
        return tf.nn.conv2d(a, box, strides=1, padding="SAME")

    sxx, sxy, syy, sxt, syt = wsum(ix * ix), wsum(ix * iy), wsum(iy * iy), wsum(ix * it), wsum(iy * it)
    # A scale-free Tikhonov term: negligible where the window has texture, keeps flat regions (singular) at ~0.
    det = sxx * syy - sxy * sxy + eps * (sxx + syy) ** 2 + 1e-12
    return (-syy * sxt + sxy * syt) / det, (sxy * sxt - sxx * syt) / det


@keras.saving.register_keras_serializable(package="zoo")
class HardwiredFeatures(keras.layers.Layer):
    """[B, T, H, W, 3] frames in [0, 1] -> [gray, grad_x, grad_y, flow_x, flow_y], each [B, T or T-1, H, W, 1]."""

    def __init__(self, window=5, **kwargs):
        kwargs["trainable"] = False  # hardwired: nothing to learn
        super().__init__(**kwargs)
        self.window = window

    def call(self, frames):
        frames = tf.cast(frames, tf.float32)
        b, t, h, w = tf.shape(frames)[0], frames.shape[1], tf.shape(frames)[2], tf.shape(frames)[3]
        gray = tf.reduce_sum(frames * tf.constant(GRAY), axis=-1, keepdims=True)  # [B, T, H, W, 1]
        flat = tf.reshape(gray, [-1, h, w, 1])
        gx, gy = _gradients(flat)
        prev = tf.reshape(gray[:, :-1], [-1, h, w, 1])
        nxt = tf.reshape(gray[:, 1:], [-1, h, w, 1])
        fx, fy = lucas_kanade(prev, nxt, self.window)

        def back(a, steps):
            return tf.reshape(a, [b, steps, h, w, 1])

        return [gray, back(gx, t), back(gy, t), back(fx, t - 1), back(fy, t - 1)]

    def compute_output_shape(self, input_shape):
        b, t, h, w, _ = input_shape
        return [(b, t, h, w, 1)] * 3 + [(b, t - 1, h, w, 1)] * 2

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package="zoo")
class Subsampling(keras.layers.Layer):
    """y = coefficient * mean over p x p blocks + bias, per feature map (time step x channel) of [B, T, H, W, C]."""

    def __init__(self, pool=2, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool

    def build(self, input_shape):
        shape = (input_shape[1], 1, 1, input_shape[-1])
        self.coefficient = self.add_weight(name="coefficient", shape=shape, initializer="ones")
        self.bias = self.add_weight(name="bias", shape=shape, initializer="zeros")

    def call(self, x):
        p = self.pool
        pooled = tf.nn.avg_pool3d(x, ksize=(1, p, p), strides=(1, p, p), padding="VALID")
        return pooled * tf.cast(self.coefficient, x.dtype) + tf.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        b, t, h, w, c = input_shape
        return (b, t, h // self.pool, w // self.pool, c)

    def get_config(self):
        return {**super().get_config(), "pool": self.pool}
