"""Local response normalization (Krizhevsky et al. 2012, Section 3.3), the "N" layer of Karpathy et al. 2014 and
of the CNN-M network of the two-stream ConvNets.

    b[c] = a[c] / (k + alpha * sum_{c' = c - n/2}^{c + n/2} a[c']^2) ** beta

with the AlexNet constants k=2, n=5, alpha=1e-4, beta=0.75 (alpha multiplies the plain sum, as in the paper and in
`tf.nn.local_response_normalization`; Caffe divides it by n instead). Works on 4-D and 5-D (video) tensors, across
the last axis.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class LocalResponseNormalization(keras.layers.Layer):
    def __init__(self, size=5, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if size % 2 != 1:
            raise ValueError(f"size must be odd, got {size}")
        self.size, self.bias, self.alpha, self.beta = size, bias, alpha, beta

    def call(self, x):
        shape = tf.shape(x)
        y = tf.cast(x, "float32")
        if x.shape.rank == 5:  # [B, T, H, W, C] -> [B * T, H, W, C]
            y = tf.reshape(y, tf.concat([[-1], shape[2:]], 0))
        y = tf.nn.local_response_normalization(y, depth_radius=self.size // 2, bias=self.bias, alpha=self.alpha,
                                               beta=self.beta)
        return tf.cast(tf.reshape(y, shape), x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "bias": self.bias, "alpha": self.alpha,
                "beta": self.beta}
