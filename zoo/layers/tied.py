"""Tied weights: a dense layer whose kernel is another Dense layer's kernel, transposed.

Vincent, Larochelle, Bengio & Manzagol 2008, Sec. 2.2: the decoder z = s(W' y + b') of an autoencoder whose encoder
is y = s(W x + b) "may optionally be constrained by W' = W^T, in which case the autoencoder is said to have tied
weights". `DenseTranspose` is that decoder layer: y = activation(x @ W^T + b'), where W is the kernel of the Dense
layer it is tied to; it owns only its bias b'.

How the tie survives `.keras` saving: a layer's config cannot hold another layer, so the config stores the *name* of
the Dense layer (`tied_to`). The model that holds both ends calls `tie_layers(decoder, encoder)` when it is built,
which is also what `from_config` does on loading, so a reloaded model shares one kernel variable again. The kernel
is saved once, with the Dense layer that owns it (the tie is a weak reference, which `.keras` saving does not walk).
A DenseTranspose that is not tied (deserialized on its own) says so when it is called.
"""

import weakref

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class DenseTranspose(keras.layers.Layer):
    """``units`` outputs from the transposed kernel of the Dense layer named ``tied_to`` (whose input has ``units``
    features)."""

    def __init__(self, tied_to, units, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.tied_to, self.units, self.use_bias = tied_to, int(units), use_bias
        self.activation = keras.activations.get(activation)
        self._dense = None

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias") if self.use_bias else None

    def tie(self, dense):
        if not isinstance(dense, keras.layers.Dense) or dense.name != self.tied_to:
            raise ValueError(f"{self.name!r} is tied to the Dense layer {self.tied_to!r}, got {dense!r}")
        if tuple(dense.kernel.shape)[0] != self.units:
            raise ValueError(f"{self.name!r} has {self.units} units but {dense.name!r} has "
                             f"{tuple(dense.kernel.shape)[0]} inputs")
        self._dense = weakref.ref(dense)

    @property
    def tied_kernel(self):
        """The Dense layer's kernel variable [units, input features] (this layer multiplies by its transpose)."""
        dense = self._dense() if self._dense is not None else None
        if dense is None:
            raise ValueError(f"DenseTranspose {self.name!r} is not tied to {self.tied_to!r}: call "
                             "zoo.layers.tie_layers(decoder, encoder) on the model pair that holds both")
        return dense.kernel

    def call(self, x):
        y = ops.matmul(x, ops.transpose(ops.cast(self.tied_kernel, x.dtype)))
        if self.use_bias:
            y = y + ops.cast(self.bias, x.dtype)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "tied_to": self.tied_to, "units": self.units,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias}


def tie_layers(model, source):
    """Tie every DenseTranspose of ``model`` to the Dense layer of ``source`` that it names."""
    for layer in model.layers:
        if isinstance(layer, DenseTranspose):
            layer.tie(source.get_layer(layer.tied_to))
    return model
