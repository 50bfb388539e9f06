"""`RandomClipFlip`: the training pipeline's left-right flip, moved onto the model's device.

`pipelines.video.clips` mirrors each training clip with probability 1/2, the whole clip at once (one coin a clip, as
C3D and the two-stream ConvNets augment). On 2 CPU cores that reverse costs ~4 us a delivered frame on an AMD EPYC,
about 4% of the decode limit, and ~2% of the pipeline's CPU time on an Intel Xeon (`zoo bench pipeline`); an input
pipeline that feeds an accelerator can leave it to the model, as it leaves the scaling of uint8 clips
(``clips(dtype="uint8")`` and ``keras.layers.Rescaling``). Then read the clips with ``flip=False`` and put this
layer first::

    model = keras.Sequential([keras.Input((16, 112, 112, 3), dtype="uint8"), RandomClipFlip(),
                              keras.layers.Rescaling(1 / 255), net])

Keras' ``RandomFlip`` takes images; this layer takes any [B, ..., H, W, C] (clips [B, T, H, W, C] or frames) and
draws one coin per sample, so that a clip's frames are mirrored together. At inference it passes its input through.
RGB only: mirrored optical flow also needs its x component negated, which the pipeline's flip does.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class RandomClipFlip(keras.layers.Layer):
    """Mirror each sample of [B, ..., H, W, C] left-right with probability 1/2 while training (all of its frames)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        if len(inputs.shape) < 4:
            raise ValueError(f"RandomClipFlip takes [B, ..., H, W, C], got shape {inputs.shape}")
        coins = keras.random.uniform(ops.shape(inputs)[:1], seed=self.seed_generator) < 0.5
        coins = ops.reshape(coins, (-1,) + (1,) * (len(inputs.shape) - 1))
        return ops.where(coins, ops.flip(inputs, axis=-2), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
