"""Layers over the time axis of [B, T, ...] sequences.

`PerStep` applies a layer (such as a 2-D CNN) to every step, like `keras.layers.TimeDistributed`, but in one call on
the B * T steps folded into the batch. Keras' TimeDistributed loops over a static T in Python, which puts T copies
of the layer into the graph: on the tiny LRCN (16 frames, 2 CPU cores) its first training step took 24.6 s and each
further step 0.33 s, against 2.8 s and 0.12 s folded (measured). Batch normalization inside sees all B * T frames.

`CombinePredictions` combines per-frame predictions over a clip (Ng, Hausknecht, Vijayanarasimhan, Vinyals, Monga,
Toderici, "Beyond Short Snippets: Deep Networks for Video Classification", CVPR 2015, Sec. 3.2): a softmax at every
step gives
p_1 .. p_T [B, T, C], combined into one distribution [B, C] by

- ``"last"``: the prediction at the last step, p_T;
- ``"max"``: the maximum over time of each class' probability (renormalized to sum to 1);
- ``"mean"``: the average (the paper's "sum", up to the factor 1/T that leaves the argmax unchanged);
- ``"weighted"``: sum_t g_t p_t / sum_t g_t with linearly increasing weights g_t = t / T, so that later steps, which
  have seen more of the video, count more (the paper's choice: "usually resulted in the best performance").
"""

import keras
from keras import ops

MODES = ("last", "max", "mean", "weighted")


@keras.saving.register_keras_serializable(package="zoo")
class PerStep(keras.layers.TimeDistributed):
    """``layer`` on every step of [B, T, ...] (static shapes but the batch), as one call on [B * T, ...]; masks are
    not supported. The static shapes of the build are kept, also where a caller's tensor has lost them (an exported
    signature that takes frames of any size and crops them)."""

    def build(self, input_shape):
        if None in input_shape[1:]:
            raise ValueError(f"PerStep needs static shapes but the batch axis, got {input_shape}")
        self.steps, self.step_shape = input_shape[1], tuple(input_shape[2:])
        super().build(input_shape)

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            raise ValueError("PerStep does not take masks; use keras.layers.TimeDistributed")
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        y = self.layer(ops.reshape(inputs, (-1, *self.step_shape)), **kwargs)
        return ops.reshape(y, (-1, self.steps, *y.shape[1:]))


@keras.saving.register_keras_serializable(package="zoo")
class CombinePredictions(keras.layers.Layer):
    def __init__(self, mode="weighted", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def call(self, p):
        if self.mode == "last":
            return p[:, -1]
        if self.mode == "max":
            top = ops.max(p, axis=1)
            return top / ops.sum(top, axis=-1, keepdims=True)
        if self.mode == "mean":
            return ops.mean(p, axis=1)
        steps = p.shape[1]
        g = ops.cast(ops.arange(1, steps + 1), p.dtype) / steps
        return ops.einsum("btc,t->bc", p, g) / ops.sum(g)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
