"""Maxout (Goodfellow, Warde-Farley, Mirza, Courville & Bengio 2013, Maxout Networks, Sec. 2): each of ``units``
outputs is the maximum of ``pieces`` affine pieces, h_i = max_j z_ij. The layer takes the ``units * pieces``
values z of the affine layer before it, consecutive pieces belonging to one unit (pylearn2's layout), so a maxout
layer is `Dense(units * pieces)` followed by `Maxout(pieces)`.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class Maxout(keras.layers.Layer):
    def __init__(self, pieces, **kwargs):
        super().__init__(**kwargs)
        self.pieces = int(pieces)

    def call(self, z):
        if z.shape[-1] % self.pieces:
            raise ValueError(f"Maxout: {z.shape[-1]} inputs do not split into pieces of {self.pieces}")
        units = z.shape[-1] // self.pieces
        return ops.max(ops.reshape(z, (-1, units, self.pieces)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}
