"""The convolutional GRU of Ballas, Yao, Pal & Courville, "Delving Deeper into Convolutional Networks for Learning
Video Representations", ICLR 2016, Section 3.1 (Keras has ConvLSTM2D but no ConvGRU):

    z_t  = sigma(W_z * x_t + U_z * h_{t-1})
    r_t  = sigma(W_r * x_t + U_r * h_{t-1})
    h~_t = tanh(W * x_t + U * (r_t . h_{t-1}))
    h_t  = (1 - z_t) h_{t-1} + z_t h~_t

where * is a 2-D convolution ("same" padding, stride 1: the hidden state keeps the input's spatial size) and . the
element-wise product. The paper writes the equations without biases; ``use_bias=True`` (the default, as Keras' GRU)
adds one bias per gate, ``use_bias=False`` is exactly the equations above.

``bottom_up=N``: the last N input channels are the lower level's hidden state h^{l-1}_t of the Stacked GRU-RCN
(Sec. 3.2), which enters the two gates only: z_t = sigma(W_z * x_t + W_z' * h^{l-1}_t + U_z * h_{t-1}), likewise r_t;
the candidate h~_t sees x_t alone. Its kernels are the separate weight ``bottom_up_kernel``.

`ConvGRU2D` is the cell wrapped by `keras.layers.RNN` (as ConvLSTM2D wraps its cell: the RNN base class only knows
vector states, so the layer gives the 4-D output shapes): masking (a masked step keeps the state and repeats the
previous output), ``return_sequences``, ``return_state``, ``go_backwards``, ``unroll``, ``stateful``, and dropout as
Keras' recurrent layers do it (Gal & Ghahramani: one mask per sequence, per gate, on the inputs and on the state).
"""

import keras
from keras import ops
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # the mixin Keras' own ConvLSTM cell uses


@keras.saving.register_keras_serializable(package="zoo")
class ConvGRU2DCell(keras.layers.Layer, DropoutRNNCell):
    """One step of the ConvGRU on [B, H, W, C] inputs with a [B, H, W, filters] state."""

    def __init__(self, filters, kernel_size, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout=0.0, recurrent_dropout=0.0, bottom_up=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self.bottom_up = int(bottom_up)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.dropout_mask_count = 3  # one mask per gate (z, r, candidate)
        self.state_size = -1  # a 4-D state: the shapes come from `ConvGRU2D`

    def build(self, input_shape):
        *spatial, channels = input_shape[1:]
        if None in spatial or channels is None:
            raise ValueError(f"ConvGRU2D needs static spatial and channel dimensions, got {input_shape}")
        self.spatial = tuple(spatial)
        self.input_channels = channels - self.bottom_up
        if self.input_channels < 1:
            raise ValueError(f"bottom_up={self.bottom_up} leaves no input channels of {channels}")
        k, f = self.kernel_size, self.filters
        self.kernel = self.add_weight(name="kernel", shape=(*k, self.input_channels, 3 * f),
                                      initializer=self.kernel_initializer)  # W_z, W_r, W
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(*k, f, 3 * f),
                                                initializer=self.recurrent_initializer)  # U_z, U_r, U
        self.bottom_up_kernel = None
        if self.bottom_up:
            self.bottom_up_kernel = self.add_weight(name="bottom_up_kernel", shape=(*k, self.bottom_up, 2 * f),
                                                    initializer=self.kernel_initializer)  # W_z', W_r'
        self.bias = self.add_weight(name="bias", shape=(3 * f,), initializer=self.bias_initializer) \
            if self.use_bias else None

    def _conv(self, x, kernel):
        return ops.conv(x, kernel, strides=1, padding="same")

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        xs = [inputs] * 3
        if training and 0.0 < self.dropout < 1.0:
            xs = [inputs * m for m in self.get_dropout_mask(inputs)]
        hs = [h] * 3
        if training and 0.0 < self.recurrent_dropout < 1.0:
            hs = [h * m for m in self.get_recurrent_dropout_mask(h)]
        c = self.input_channels
        w = ops.split(self.kernel, 3, axis=-1)
        u = ops.split(self.recurrent_kernel, 3, axis=-1)
        b = ops.split(self.bias, 3) if self.use_bias else [0.0, 0.0, 0.0]
        if xs[0] is xs[1] is xs[2]:  # no input dropout: one convolution for the three gates
            x_z, x_r, x_h = ops.split(self._conv(inputs[..., :c], self.kernel), 3, axis=-1)
        else:
            x_z, x_r, x_h = (self._conv(x[..., :c], k) for x, k in zip(xs, w))
        if self.bottom_up:
            up = ops.split(self.bottom_up_kernel, 2, axis=-1)
            x_z = x_z + self._conv(xs[0][..., c:], up[0])
            x_r = x_r + self._conv(xs[1][..., c:], up[1])
        z = self.recurrent_activation(x_z + self._conv(hs[0], u[0]) + b[0])
        r = self.recurrent_activation(x_r + self._conv(hs[1], u[1]) + b[1])
        candidate = self.activation(x_h + self._conv(r * hs[2], u[2]) + b[2])
        h = (1.0 - z) * h + z * candidate
        return h, [h]

    def compute_output_shape(self, input_shape, states_shape=None):
        shape = (input_shape[0], *input_shape[1:-1], self.filters)
        return shape, [shape]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, *self.spatial, self.filters), dtype=self.compute_dtype)]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "bottom_up": self.bottom_up,
                "seed": self.seed}


_CELL_ARGS = ("filters", "kernel_size", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "dropout", "recurrent_dropout", "bottom_up", "seed")


@keras.saving.register_keras_serializable(package="zoo")
class ConvGRU2D(keras.layers.RNN):
    """[B, T, H, W, C] -> the last state [B, H, W, filters] (or all states [B, T, H, W, filters] with
    ``return_sequences``; plus the last state with ``return_state``). Arguments: those of `ConvGRU2DCell` and of
    `keras.layers.RNN`."""

    def __init__(self, filters, kernel_size, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout=0.0, recurrent_dropout=0.0, bottom_up=0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell = ConvGRU2DCell(filters, kernel_size, activation=activation,
                             recurrent_activation=recurrent_activation, use_bias=use_bias,
                             kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                             bottom_up=bottom_up, seed=seed, name="conv_gru_cell", dtype=kwargs.get("dtype"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=5)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[:2]
        state = (batch, *sequences_shape[2:-1], self.cell.filters)
        output = (batch, steps, *state[1:]) if self.return_sequences else state
        return (output, state) if self.return_state else output

    def compute_mask(self, _, mask):
        mask = keras.tree.flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        return [output_mask, None] if self.return_state else output_mask

    def get_config(self):
        config = super().get_config()
        cell = config.pop("cell")["config"]
        return {**config, **{k: cell[k] for k in _CELL_ARGS}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
