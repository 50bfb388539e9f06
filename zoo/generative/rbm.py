"""Restricted Boltzmann machines trained with contrastive divergence, and greedy layer-wise pretraining of a deep
autoencoder: Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural Networks (Science), with
the training details of Hinton 2010, A Practical Guide to Training Restricted Boltzmann Machines (UTML TR 2010-003).

- Energy E(v, h) = -b'v - c'h - v'Wh with binary (Bernoulli) units, or for Gaussian units of unit variance a
  quadratic term (v - b)^2 / 2 (visible) or h^2 / 2 (hidden) in place of the linear bias term (Guide, Sec. 13.2;
  the paper's top RBM has "linear" hidden units with Gaussian noise).
- CD-k (Hinton 2002): the positive statistics <v h> use the data and the hidden probabilities; the chain samples
  binary hidden states from the data, reconstructs the visible units as probabilities (not sampled) and repeats k
  times; the last hidden update uses probabilities (Guide, Sec. 3.2-3.4). The gradient of the weights adds an L2
  weight cost of 0.0002 (Guide, Sec. 10; the paper's code). The update is hand-written, not a tape: it is divided
  by the number of replicas like every other loss here (Keras sums replica gradients), and the hidden states are
  sampled with per-replica noise from `zoo.distribute`.
- Weights from N(0, 0.01^2), biases 0 (Guide, Sec. 8). Optimizer of `compile()` without one: SGD with momentum 0.9
  at 0.1 for binary hidden units and 0.001 for Gaussian ones (the paper's rates; its momentum is 0.5 for the first
  5 epochs).
- Metrics: `loss`, the reconstruction error of a deterministic up-down pass in nats per example (cross-entropy of
  the data under the reconstructed probabilities; half the summed squared error for Gaussian visible units),
  `mse` per unit, and the mean `free_energy` of the data (Guide, Sec. 5-6: compare it between training and
  validation data to see overfitting).

Pretraining (Fig. 1 of the paper): `stack` trains RBMs 784-1000-500-250-30 greedily, each on the hidden
probabilities of the one below, the top one with Gaussian hidden units; `unroll` turns the stack into the deep
autoencoder of `zoo.generative.autoencoder` (decoder weights the transposes, untied), which is then fine-tuned with
`fit` on the reconstruction error. The registered `rbm` is the stack's first RBM, 784-1000.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import distribute
from zoo.generative.autoencoder import autoencoder_deep, dense_layers
from zoo.generative.common import images_of, plain, to_uint8
from zoo.registry import register
from zoo.training.data import release_iterators

UNITS = ("bernoulli", "gaussian")


def draw(mean, units, noise):
    """A sample of units with this mean: binary units are 1 where uniform ``noise`` is below their probability,
    Gaussian units (unit variance) add standard normal ``noise``."""
    return tf.cast(noise < mean, mean.dtype) if units == "bernoulli" else mean + noise


@keras.saving.register_keras_serializable(package="zoo")
class RBM(keras.Model):
    """An RBM over ``num_visible`` units (inputs of ``image_shape`` are flattened) with ``num_hidden`` hidden units,
    trained by `fit` with CD-``cd_k``."""

    def __init__(self, num_visible, num_hidden, visible="bernoulli", hidden="bernoulli", cd_k=1, weight_cost=2e-4,
                 image_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if visible not in UNITS or hidden not in UNITS:
            raise ValueError(f"unit types must be in {UNITS}, got visible={visible!r}, hidden={hidden!r}")
        if cd_k < 1:
            raise ValueError(f"cd_k must be at least 1, got {cd_k}")
        self.num_visible, self.num_hidden = int(num_visible), int(num_hidden)
        self.visible, self.hidden = visible, hidden
        self.cd_k, self.weight_cost, self.seed = int(cd_k), float(weight_cost), seed
        self.image_shape = tuple(image_shape or (self.num_visible,))
        if int(np.prod(self.image_shape)) != self.num_visible:
            raise ValueError(f"image_shape {self.image_shape} does not hold {self.num_visible} visible units")
        self.kernel = self.add_weight(shape=(self.num_visible, self.num_hidden), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=0.01, seed=seed))
        self.visible_bias = self.add_weight(shape=(self.num_visible,), initializer="zeros", name="visible_bias")
        self.hidden_bias = self.add_weight(shape=(self.num_hidden,), initializer="zeros", name="hidden_bias")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("loss", "mse", "free_energy")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- conditionals and energies -------------------------------------------------------------------------
    def hidden_mean(self, v):
        """E[h | v]: probabilities (binary units) or means (Gaussian units) [B, num_hidden]."""
        x = tf.matmul(v, self.kernel) + self.hidden_bias
        return tf.sigmoid(x) if self.hidden == "bernoulli" else x

    def visible_input(self, h):
        """The visible units' total input W h + b [B, num_visible]."""
        return tf.matmul(h, self.kernel, transpose_b=True) + self.visible_bias

    def visible_mean(self, h):
        x = self.visible_input(h)
        return tf.sigmoid(x) if self.visible == "bernoulli" else x

    def sample_hidden(self, mean):
        """h ~ p(h | v) from its mean, with per-replica noise."""
        noise = distribute.replica_uniform if self.hidden == "bernoulli" else distribute.replica_normal
        return draw(mean, self.hidden, noise(tf.shape(mean), self.seed_generator))

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)) up to a constant, per example [B]."""
        x = tf.matmul(v, self.kernel) + self.hidden_bias
        hidden = tf.reduce_sum(tf.nn.softplus(x) if self.hidden == "bernoulli" else 0.5 * tf.square(x), -1)
        if self.visible == "bernoulli":
            return -tf.linalg.matvec(v, self.visible_bias) - hidden
        return 0.5 * tf.reduce_sum(tf.square(v - self.visible_bias), -1) - hidden

    def log_partition(self, chunk=65536):
        """log Z, exactly, by summing exp(-F) over every hidden configuration: for binary units and at most 24 hidden
        units, to measure small RBMs (log p(v) = -F(v) - log Z for binary v)."""
        if self.visible != "bernoulli" or self.hidden != "bernoulli" or self.num_hidden > 24:
            raise ValueError("the exact partition function needs binary units and at most 24 hidden units")
        bits, total = 2 ** np.arange(self.num_hidden), 2 ** self.num_hidden
        terms = []
        for start in range(0, total, chunk):
            h = ((np.arange(start, min(start + chunk, total))[:, None] & bits) > 0).astype("float32")
            x = tf.matmul(h, self.kernel, transpose_b=True) + self.visible_bias
            terms.append(tf.linalg.matvec(h, self.hidden_bias) + tf.reduce_sum(tf.nn.softplus(x), -1))
        return tf.reduce_logsumexp(tf.concat(terms, 0))

    def flat(self, x):
        """[B, visible] in the weights' dtype as read here (float32, or a mixed policy's compute dtype in `call`)."""
        return tf.reshape(tf.cast(x, self.kernel.dtype), [-1, self.num_visible])

    def call(self, x, training=False):
        """The deterministic up-down reconstruction E[v | E[h | x]], in the input's shape (float32)."""
        v = self.visible_mean(self.hidden_mean(self.flat(x)))
        return tf.cast(tf.reshape(v, [-1, *self.image_shape]), tf.float32)

    def reconstruct(self, x):
        return self(x, training=False)

    # -- contrastive divergence ----------------------------------------------------------------------------
    def cd_gradients(self, v0):
        """The CD-k estimate of the gradient of -log p(v0) (mean over the batch, plus the weight cost) for
        [kernel, visible_bias, hidden_bias]."""
        p0 = self.hidden_mean(v0)
        h = self.sample_hidden(p0)
        for step in range(self.cd_k):
            v = self.visible_mean(h)  # reconstructions as probabilities / means, not sampled (Guide 3.2)
            p = self.hidden_mean(v)
            if step < self.cd_k - 1:
                h = self.sample_hidden(p)
        n = tf.cast(tf.shape(v0)[0], tf.float32)
        d_kernel = -(tf.matmul(v0, p0, transpose_a=True) - tf.matmul(v, p, transpose_a=True)) / n
        return [d_kernel + self.weight_cost * self.kernel, -tf.reduce_mean(v0 - v, 0), -tf.reduce_mean(p0 - p, 0)]

    def compile(self, optimizer=None, **kwargs):
        rate = 0.1 if self.hidden == "bernoulli" else 0.001
        default = {"class_name": "SGD", "config": {"learning_rate": rate, "momentum": 0.9}}
        super().compile(optimizer=optimizer or keras.optimizers.get(plain(default)), **kwargs)

    def compile_from_config(self, config):
        """Recompile on load: a `.keras` file keeps the optimizer and its state (Keras skips custom compiles)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def _update(self, v):
        x = self.visible_input(self.hidden_mean(v))
        if self.visible == "bernoulli":  # the cross-entropy of v under sigmoid(x), from the logits x
            r, error = tf.sigmoid(x), tf.reduce_sum(tf.nn.softplus(x) - v * x, -1)
        else:
            r, error = x, 0.5 * tf.reduce_sum(tf.square(v - x), -1)
        for name, value in (("loss", error), ("mse", tf.reduce_mean(tf.square(v - r), -1)),
                            ("free_energy", self.free_energy(v))):
            self.trackers[name].update_state(value)
        return {k: m.result() for k, m in self.trackers.items()}

    def train_step(self, data):
        v0 = self.flat(images_of(data))
        variables = [self.kernel, self.visible_bias, self.hidden_bias]
        # Keras sums replica gradients: divide the per-replica mean by the number of replicas. The update is float32
        # under any dtype policy; a float16 policy's LossScaleOptimizer divides by its loss scale, so multiply by it.
        grads = [self.optimizer.scale_loss(g / distribute.num_replicas()) for g in self.cd_gradients(v0)]
        self.optimizer.apply(grads, variables)
        return self._update(v0)

    def test_step(self, data):
        return self._update(self.flat(images_of(data)))

    # -- sampling and export -------------------------------------------------------------------------------
    def sample(self, num, seed=None, steps=1000):
        """``num`` visible means after ``steps`` steps of block Gibbs sampling that start from uniform noise."""
        seed = 0 if seed is None else seed

        def noise(units, shape, step):
            fn = tf.random.stateless_uniform if units == "bernoulli" else tf.random.stateless_normal
            return fn(shape, seed=[seed, step])

        v = tf.random.stateless_uniform([num, self.num_visible], seed=[seed, 0])
        for step in range(1, steps + 1):
            mean = self.hidden_mean(v)
            v = self.visible_mean(draw(mean, self.hidden, noise(self.hidden, tf.shape(mean), 2 * step)))
            if step < steps:
                v = draw(v, self.visible, noise(self.visible, tf.shape(v), 2 * step + 1))
        return tf.reshape(v, [num, *self.image_shape])

    def serving_endpoints(self):
        """SavedModel signatures: encode (uint8 images -> hidden probabilities), decode (hidden -> uint8 images),
        reconstruct (uint8 -> uint8)."""
        images = [tf.TensorSpec([None, *self.image_shape], tf.uint8, name="images")]

        def encode(images):
            return {"hidden": self.hidden_mean(self.flat(images) / 255.0)}

        def decode(hidden):
            return {"images": to_uint8(tf.reshape(self.visible_mean(hidden), [-1, *self.image_shape]))}

        def reconstruct(images):
            return {"images": to_uint8(self(tf.cast(images, tf.float32) / 255.0))}

        hidden = [tf.TensorSpec([None, self.num_hidden], tf.float32, name="hidden")]
        return {"encode": (encode, images), "decode": (decode, hidden), "reconstruct": (reconstruct, images)}

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible, "num_hidden": self.num_hidden,
                "visible": self.visible, "hidden": self.hidden, "cd_k": self.cd_k, "weight_cost": self.weight_cost,
                "image_shape": list(self.image_shape), "seed": self.seed}


@register(
    "rbm",
    paper="Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural Networks (Science), Fig. 1 "
          "(first RBM, 784-1000); Hinton 2010, A Practical Guide to Training RBMs",
    task="generative",
    input="image",
    tiny=dict(hidden=64),
)
def rbm(height=28, width=28, channels=1, hidden=1000, visible_units="bernoulli", hidden_units="bernoulli", cd_k=1,
        weight_cost=2e-4, seed=None):
    shape = (height, width, channels)
    return RBM(int(np.prod(shape)), hidden, visible_units, hidden_units, cd_k, weight_cost, shape, seed, name="rbm")


def stack(images, sizes=(1000, 500, 250, 30), epochs=50, batch_size=100, cd_k=1, optimizer=None, seed=0,
          verbose=0):
    """Greedy layer-wise pretraining: one RBM per entry of ``sizes``, each trained with CD-k for ``epochs`` on the
    hidden probabilities of the one below (the first on ``images``: uint8, or floats in [0, 1]); the top RBM has
    Gaussian hidden units (the linear code). ``optimizer``: a function returning a fresh optimizer per RBM
    (default: each RBM's `compile()` default). Returns the RBMs, bottom first."""
    images = np.asarray(images)
    x = images.astype("float32") / (255.0 if images.dtype == np.uint8 else 1.0)
    x = x.reshape(len(x), -1)
    rbms = []
    for i, units in enumerate(sizes):
        top = i == len(sizes) - 1
        layer = RBM(x.shape[1], units, hidden="gaussian" if top else "bernoulli", cd_k=cd_k,
                    image_shape=images.shape[1:] if i == 0 else None, seed=seed + i, name=f"rbm_{i + 1}")
        layer.compile(optimizer=optimizer() if optimizer else None)
        layer.fit(x, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose)
        release_iterators()  # its tf.data iterator now, not after the next RBMs' training (`zoo.training.data`)
        x = np.concatenate([np.asarray(layer.hidden_mean(x[j:j + 1000])) for j in range(0, len(x), 1000)])
        rbms.append(layer)
    return rbms


def unroll(rbms):
    """The deep autoencoder of a stack of RBMs (Fig. 1, "unrolling"): encoder layer i has RBM i's weights and hidden
    biases, decoder layer i the transposed weights and visible biases of the RBM it mirrors (untied, so that
    fine-tuning adjusts each). Logistic units where the RBM's are binary, linear where they are Gaussian."""
    bottom = rbms[0]
    if len(bottom.image_shape) != 3:
        raise ValueError(f"the bottom RBM must model images [H, W, C], not {bottom.image_shape}")
    for below, above in zip(rbms, rbms[1:]):
        if below.num_hidden != above.num_visible or below.hidden != "bernoulli" or above.visible != "bernoulli":
            raise ValueError("each RBM must model the binary hidden units of the one below")
    if rbms[-1].hidden != "gaussian":
        raise ValueError("the top RBM must have Gaussian hidden units: they become the linear code")
    h, w, c = bottom.image_shape
    net = autoencoder_deep(h, w, c, hidden=[r.num_hidden for r in rbms[:-1]], code=rbms[-1].num_hidden,
                           reconstruction="cross_entropy" if bottom.visible == "bernoulli" else "squared_error")
    for layer, r in zip(dense_layers(net.encoder), rbms):
        layer.set_weights([np.asarray(r.kernel), np.asarray(r.hidden_bias)])
    for layer, r in zip(dense_layers(net.decoder), reversed(rbms)):
        layer.set_weights([np.asarray(r.kernel).T, np.asarray(r.visible_bias)])
    return net
