"""Autoencoders: linear + sigmoid, deep fully connected, convolutional, and with tied weights.

- `autoencoder-linear`: one hidden layer, each map an affine one followed by a sigmoid, h = s(W x + b) and
  x' = s(W' h + b'), trained on the cross-entropy of Bernoulli pixels (Bengio, Lamblin, Popovici & Larochelle 2007,
  Greedy Layer-Wise Training of Deep Networks, Sec. 2-3; Vincent et al. 2008, Sec. 2.1). With
  `activation="linear", reconstruction="squared_error"` it is the linear autoencoder of Baldi & Hornik 1989, whose
  optimum spans the data's principal subspace (PCA).
- `autoencoder-tied`: the same with tied weights, W' = W^T (Vincent, Larochelle, Bengio & Manzagol 2008, Extracting
  and Composing Robust Features with Denoising Autoencoders, Sec. 2.2): the decoder layer is a
  `zoo.layers.DenseTranspose` of the encoder's.
- `autoencoder-deep`: Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural Networks
  (Science), Fig. 1 and the MNIST autoencoder 784-1000-500-250-30: logistic hidden units, a linear 30-unit code,
  the mirrored decoder 30-250-500-1000-784 with logistic outputs, the cross-entropy error. `zoo.build` initializes
  it at random (the paper's baseline); `zoo.generative.rbm.unroll` from a stack of pretrained RBMs.
- `autoencoder-conv`: a ReLU encoder of four 5x5 stride-2 convolutions and a linear code, and the mirrored decoder
  of four stride-2 transposed ("up-") convolutions (Masci, Meier, Ciresan & Schmidhuber 2011, Stacked
  Convolutional Auto-Encoders; up-convolutions as in Dosovitskiy, Springenberg & Brox 2015, Learning to Generate
  Chairs). The 30-unit code matches the deep autoencoder's, so the two compare.

Each is an `Autoencoder`: a `keras.Model` with a custom `train_step` around a functional encoder (images -> code)
and decoder (code -> logits, or values for the squared error). Its metrics are reconstruction errors: `loss`, the
training objective per image (cross-entropy in nats summed over pixels, or the summed squared error), and `mse`, the
mean squared error per pixel of the reconstruction, which compares across models. `classifier(autoencoder, n)`
puts a softmax on a copy of the encoder: pretrained features for a supervised model.

Optimizers of `compile()` without one: SGD at 0.1 on the per-image objective for the shallow autoencoders (Vincent
et al. 2008; Bengio et al. 2007). Hinton & Salakhutdinov fine-tuned with conjugate gradients, which Keras does not
have: Adam at 1e-3 for the deep and the convolutional autoencoders.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import distribute
from zoo.generative.common import images_of, plain, submodels_config, to_uint8, with_submodels
from zoo.layers import DenseTranspose, tie_layers
from zoo.registry import register

RECONSTRUCTIONS = ("cross_entropy", "squared_error")
SGD = {"class_name": "SGD", "config": {"learning_rate": 0.1}}
ADAM = {"class_name": "Adam", "config": {"learning_rate": 1e-3}}


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(keras.Model):
    """Wraps a functional encoder (images -> code) and decoder (code -> logits or values); ``optimizer_config`` is
    the Keras config of the paper's optimizer that `compile()` uses when given none."""

    def __init__(self, encoder, decoder, reconstruction="cross_entropy", optimizer_config=None, **kwargs):
        super().__init__(**kwargs)
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTIONS}, got {reconstruction!r}")
        self.encoder, self.decoder = encoder, tie_layers(decoder, encoder)
        self.reconstruction, self.optimizer_config = reconstruction, plain(optimizer_config or ADAM)
        self.image_shape = tuple(encoder.inputs[0].shape[1:])
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("loss", "mse")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def encode(self, x, training=False):
        return self.encoder(x, training=training)

    def decode(self, code, training=False):
        """The reconstruction's mean: pixel probabilities (cross-entropy) or values (squared error)."""
        out = tf.cast(self.decoder(code, training=training), tf.float32)
        return tf.sigmoid(out) if self.reconstruction == "cross_entropy" else out

    def call(self, x, training=False):
        return self.decode(self.encode(x, training), training)

    def reconstruct(self, x):
        return self(x, training=False)

    def reconstruction_error(self, x, training=False):
        """Per image: (the training objective, the mean squared error per pixel of the reconstruction)."""
        out = tf.cast(self.decoder(self.encode(x, training), training=training), tf.float32)
        axes = list(range(1, len(x.shape)))
        if self.reconstruction == "cross_entropy":
            objective = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=out), axes)
            out = tf.sigmoid(out)
        else:
            objective = tf.reduce_sum(tf.square(x - out), axes)
        return objective, tf.reduce_mean(tf.square(x - out), axes)

    # -- training ------------------------------------------------------------------------------------------
    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.get(plain(self.optimizer_config)), **kwargs)

    def compile_from_config(self, config):
        """Recompile on load: a `.keras` file keeps the optimizer and its state (Keras skips custom compiles)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def _update(self, objective, mse):
        self.trackers["loss"].update_state(objective)
        self.trackers["mse"].update_state(mse)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data):
        x = tf.cast(images_of(data), tf.float32)
        with tf.GradientTape() as tape:
            objective, mse = self.reconstruction_error(x, training=True)
            # Keras sums replica gradients: divide the per-replica mean by the number of replicas.
            loss = tf.reduce_mean(objective) / distribute.num_replicas()
            scaled = self.optimizer.scale_loss(loss)  # float16 training: a LossScaleOptimizer's scaling
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._update(objective, mse)

    def test_step(self, data):
        return self._update(*self.reconstruction_error(tf.cast(images_of(data), tf.float32)))

    # -- export (used by zoo.training.export) --------------------------------------------------------------
    def serving_endpoints(self):
        """SavedModel signatures: encode (uint8 images -> code), decode (code -> uint8 images), reconstruct."""
        h, w, c = self.image_shape
        images = [tf.TensorSpec([None, h, w, c], tf.uint8, name="images")]

        def encode(images):
            return {"code": self.encode(tf.cast(images, tf.float32) / 255.0)}

        def decode(code):
            return {"images": to_uint8(self.decode(code))}

        def reconstruct(images):
            return {"images": to_uint8(self(tf.cast(images, tf.float32) / 255.0))}

        code = [tf.TensorSpec([None, *self.encoder.outputs[0].shape[1:]], tf.float32, name="code")]
        return {"encode": (encode, images), "decode": (decode, code), "reconstruct": (reconstruct, images)}

    def get_config(self):
        return {**super().get_config(), "reconstruction": self.reconstruction,
                "optimizer_config": plain(self.optimizer_config),
                **submodels_config(encoder=self.encoder, decoder=self.decoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**with_submodels(config, "encoder", "decoder"))  # ties the DenseTranspose layers again


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, (keras.layers.Dense, DenseTranspose))]


def dense_autoencoder(image_shape, hidden, code, activation, code_activation, reconstruction, tied, optimizer,
                      name):
    """Fully connected: encoder image -> hidden... -> code, decoder the mirror image (tied: DenseTranspose of the
    encoder's layers), its last layer linear (logits for the cross-entropy)."""
    x = keras.Input(image_shape, name="images")
    h = keras.layers.Flatten(name="flatten")(x)
    widths = (*hidden, code)
    for i, units in enumerate(widths):
        act = activation if i < len(hidden) else code_activation
        h = keras.layers.Dense(units, activation=act, name=f"encode_{i + 1}")(h)
    encoder = keras.Model(x, h, name="encoder")

    h = z = keras.Input((code,), name="code")
    for i, (units, partner) in enumerate(zip((*reversed(hidden), int(np.prod(image_shape))),
                                             reversed(dense_layers(encoder)))):
        act, layer_name = (activation if i < len(hidden) else None), f"decode_{i + 1}"
        layer = (DenseTranspose(partner.name, units, act, name=layer_name) if tied
                 else keras.layers.Dense(units, activation=act, name=layer_name))
        h = layer(h)
    decoder = keras.Model(z, keras.layers.Reshape(image_shape, name="reshape")(h), name="decoder")
    return Autoencoder(encoder, decoder, reconstruction, optimizer, name=name)


def conv_features(x, filters, kernel_size):
    """The convolutional encoder's trunk: one stride-2 ReLU convolution per entry of ``filters``, flattened."""
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (the decoder mirrors the sizes exactly), got {kernel_size}")
    h = x
    for i, f in enumerate(filters):
        h = keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", activation="relu", name=f"conv_{i + 1}")(h)
    return keras.layers.Flatten(name="flatten")(h)


def upconv_decoder(code_dim, image_shape, filters, kernel_size, out_channels, input_name="code"):
    """The mirror of `conv_features`: a dense ReLU layer to its last feature map, then one stride-2 transposed
    convolution per convolution, each back to the size the convolution saw; the last one gives ``out_channels``
    linear outputs (logits) at the image size."""
    sizes = [tuple(image_shape[:2])]
    for _ in filters:
        sizes.append(tuple(-(-s // 2) for s in sizes[-1]))  # 'same' padding, stride 2: ceil(s / 2)
    h = z = keras.Input((code_dim,), name=input_name)
    h = keras.layers.Dense(int(np.prod(sizes[-1])) * filters[-1], activation="relu", name="project")(h)
    h = keras.layers.Reshape((*sizes[-1], filters[-1]), name="unflatten")(h)
    outputs = (*reversed(filters[:-1]), out_channels)
    for i, (f, big, small) in enumerate(zip(outputs, reversed(sizes[:-1]), reversed(sizes[1:]))):
        # an odd kernel with 'same' padding and stride 2 gives 2 * small - 1 + output_padding
        pad = tuple(b - 2 * s + 1 for b, s in zip(big, small))
        last = i == len(outputs) - 1
        h = keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", output_padding=pad,
                                         activation=None if last else "relu", name=f"upconv_{i + 1}")(h)
    return keras.Model(z, h, name="decoder")


def shallow_autoencoder(height, width, channels, hidden, activation, reconstruction, tied):
    """One hidden layer; the decoder a DenseTranspose of the encoder when ``tied``."""
    return dense_autoencoder((height, width, channels), (), hidden, activation, activation, reconstruction, tied,
                             SGD, name="autoencoder_tied" if tied else "autoencoder_linear")


SHALLOW = dict(task="generative", input="image", tiny=dict(hidden=32))


@register("autoencoder-linear", paper="Bengio, Lamblin, Popovici & Larochelle 2007, Greedy Layer-Wise Training of "
          "Deep Networks, Sec. 2-3 (one hidden layer, affine maps with sigmoids, cross-entropy)", **SHALLOW)
def autoencoder_linear(height=28, width=28, channels=1, hidden=500, activation="sigmoid",
                       reconstruction="cross_entropy"):
    return shallow_autoencoder(height, width, channels, hidden, activation, reconstruction, tied=False)


@register("autoencoder-tied", paper="Vincent, Larochelle, Bengio & Manzagol 2008, Extracting and Composing Robust "
          "Features with Denoising Autoencoders, Sec. 2.2 (tied weights W' = W^T)", **SHALLOW)
def autoencoder_tied(height=28, width=28, channels=1, hidden=500, activation="sigmoid",
                     reconstruction="cross_entropy"):
    return shallow_autoencoder(height, width, channels, hidden, activation, reconstruction, tied=True)


@register("autoencoder-deep", paper="Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural "
          "Networks (Science), Fig. 1, MNIST 784-1000-500-250-30", task="generative", input="image",
          tiny=dict(hidden=(64, 32), code=8))
def autoencoder_deep(height=28, width=28, channels=1, hidden=(1000, 500, 250), code=30,
                     reconstruction="cross_entropy"):
    return dense_autoencoder((height, width, channels), tuple(hidden), code, "sigmoid", None, reconstruction,
                             tied=False, optimizer=ADAM, name="autoencoder_deep")


@register("autoencoder-conv", paper="Masci, Meier, Ciresan & Schmidhuber 2011, Stacked Convolutional "
          "Auto-Encoders; up-convolutions of Dosovitskiy, Springenberg & Brox 2015", task="generative",
          input="image", tiny=dict(filters=(8, 16, 16, 16), kernel_size=3, code=16))
def autoencoder_conv(height=28, width=28, channels=1, filters=(32, 64, 128, 256), kernel_size=5, code=30):
    x = keras.Input((height, width, channels), name="images")
    h = conv_features(x, filters, kernel_size)
    encoder = keras.Model(x, keras.layers.Dense(code, name="code")(h), name="encoder")
    decoder = upconv_decoder(code, (height, width), filters, kernel_size, channels)
    return Autoencoder(encoder, decoder, "cross_entropy", ADAM, name="autoencoder_conv")


def classifier(autoencoder, num_classes, name="classifier"):
    """A softmax layer on a copy of ``autoencoder``'s encoder, its code the features: a supervised model initialized
    by unsupervised pretraining (Hinton & Salakhutdinov 2006; Bengio et al. 2007)."""
    encoder = keras.models.clone_model(autoencoder.encoder)
    encoder.set_weights(autoencoder.encoder.get_weights())
    x = keras.Input(autoencoder.image_shape, name="images")
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="softmax")(encoder(x))
    return keras.Model(x, probabilities, name=name)
