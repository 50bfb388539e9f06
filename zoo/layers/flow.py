"""Optical flow as a sequence of images, for 2-D networks that read flow frame by frame (Donahue et al. 2015, Sec. 4:
"flow ... transformed into a flow image by scaling and shifting x and y flow values ... A third channel for the flow
image is created by calculating the flow magnitude").

`FlowImages` turns the stacked flow of the data pipeline, [B, H, W, 2L] with channels x_1, y_1, ..., x_L, y_L in
pixels, into L flow images [B, L, H, W, 3] = (x, y, sqrt(x^2 + y^2)) / bound, clipped to [-1, 1]: the paper maps the
flow to the range of its RGB input (pixel values around a mean); here RGB frames are in [0, 1], and ``bound`` (20 px,
the bound the shards store flow with) brings flow to a comparable range.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class FlowImages(keras.layers.Layer):
    def __init__(self, bound=20.0, **kwargs):
        super().__init__(**kwargs)
        self.bound = float(bound)

    def call(self, flow):
        h, w, steps = flow.shape[1], flow.shape[2], flow.shape[3] // 2
        fields = ops.transpose(ops.reshape(flow, (-1, h, w, steps, 2)), (0, 3, 1, 2, 4))  # [B, L, H, W, (x, y)]
        magnitude = ops.sqrt(ops.sum(ops.square(fields), axis=-1, keepdims=True))
        return ops.clip(ops.concatenate([fields, magnitude], axis=-1) / self.bound, -1.0, 1.0)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, c // 2, h, w, 3)

    def get_config(self):
        return {**super().get_config(), "bound": self.bound}
