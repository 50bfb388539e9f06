"""Circular (wrap-around) padding of images, for scenes that live on a torus: `digit-actions` draws its digit on a
torus (it leaves one edge and comes back at the opposite one, `pipelines.embedded`), so a convolution there sees the
true neighbours of an edge pixel only if the image is padded with the opposite edge. NumPy's ``np.pad(x,
mode="wrap")`` on the rows and columns; PyTorch's ``padding_mode="circular"``, which Keras lacks.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class CircularPadding2D(keras.layers.Layer):
    """Pad [B, H, W, C] with ``padding`` rows at the top and at the bottom, taken from the opposite edge, then as
    many columns on each side; ``padding``: an int or (rows, columns), each at most the image's size."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        rows, cols = (padding, padding) if isinstance(padding, int) else padding
        self.padding = (int(rows), int(cols))

    def build(self, input_shape):
        if any(p > n for p, n in zip(self.padding, input_shape[1:3]) if n is not None):
            raise ValueError(f"CircularPadding2D: padding {self.padding} is larger than the image {input_shape[1:3]}")

    def call(self, x):
        rows, cols = self.padding
        if rows:
            x = ops.concatenate([x[:, -rows:], x, x[:, :rows]], axis=1)
        if cols:
            x = ops.concatenate([x[:, :, -cols:], x, x[:, :, :cols]], axis=2)
        return x

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        rows, cols = self.padding
        return (b, None if h is None else h + 2 * rows, None if w is None else w + 2 * cols, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
