"""PNG figures a run leaves behind: training curves, image grids, VAE manifolds and traversals, confusion matrices."""

import csv
import os

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.stats import norm  # noqa: E402


def _atomic_savefig(fig, path):
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def curves(history_csv, path):
    """One panel per metric, training and validation together, from Keras' CSVLogger file."""
    with open(history_csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    keys = [k for k in rows[0] if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, style in ((key, "-"), ("val_" + key, "--")):
            if name in rows[0] and rows[0][name] != "":
                ax.plot(epochs, [float(r[name]) for r in rows], style, marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return _atomic_savefig(fig, path)


def image_grid(images, path, columns=None, scale=2):
    """images: [N, H, W, C] in [0, 1] (float) or uint8 -> one PNG grid."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, c), 128, np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = im
    img = Image.fromarray(grid[..., 0] if c == 1 else grid)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    tmp = path + ".tmp.png"
    img.save(tmp)
    os.replace(tmp, path)
    return path


def manifold(model, path, n=20):
    """Kingma & Welling 2014, Fig. 4: decoder means on a grid of the first two latent dimensions, spaced by the
    inverse CDF of the Gaussian prior (the other dimensions at 0)."""
    q = norm.ppf(np.linspace(0.05, 0.95, n))
    z = np.zeros((n * n, model.latent_dim), np.float32)
    z[:, 0] = np.repeat(q, n)
    z[:, 1] = np.tile(q, n) if model.latent_dim > 1 else 0
    return image_grid(np.asarray(model.decode_mean(z)), path, columns=n, scale=1)


def traversals(model, path, n=9, limit=3.0, z=None, max_dims=32):
    """Latent traversals: row d decodes ``z`` (default the prior mean, 0) with latent dimension d swept over ``n``
    values from -``limit`` to ``limit``, one row per dimension (the first ``max_dims``); inactive dimensions show as
    constant rows."""
    dims = min(model.latent_dim, max_dims)
    codes = np.zeros((dims, n, model.latent_dim), np.float32)
    if z is not None:
        codes[:] = np.asarray(z, np.float32)
    codes[np.arange(dims), :, np.arange(dims)] = np.linspace(-limit, limit, n)
    return image_grid(np.asarray(model.decode_mean(codes.reshape(dims * n, -1))), path, columns=n)


def _confusion_panel(ax, matrix, class_names, fontsize=8):
    """Row-normalized confusion matrix (rows: true class) drawn on ``ax``; cells of 1% or more carry their value."""
    m = np.asarray(matrix, float)
    m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=fontsize)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(m):
        if v >= 0.01:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=0.75 * fontsize,
                    color="white" if v > 0.5 else "black")


def confusion(matrix, class_names, path):
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(class_names), 1 + 0.4 * len(class_names)))
    _confusion_panel(ax, matrix, class_names)
    return _atomic_savefig(fig, path)


def confusion_grid(panels, class_names, path, columns=3):
    """Several models' confusion matrices on one dataset, side by side: ``panels`` a list of (title, matrix or None
    for a model not run)."""
    rows = -(-len(panels) // columns)
    side = 1.2 + 0.32 * len(class_names)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * side, rows * (side + 0.4)), squeeze=False)
    for ax, (title, matrix) in zip(axes.flat, panels):
        if matrix is None:
            ax.text(0.5, 0.5, "not run", ha="center", va="center")
            ax.set_axis_off()
        else:
            _confusion_panel(ax, matrix, class_names, fontsize=6)
        ax.set_title(title, fontsize=8)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return _atomic_savefig(fig, path)


class SampleGrid(keras.callbacks.Callback):
    """Writes samples from fixed noise after every epoch (``model.sample(num, seed)``), so epochs compare."""

    def __init__(self, directory, num=64, seed=0):
        super().__init__()
        self.directory, self.num, self.seed = directory, num, seed

    def on_epoch_end(self, epoch, logs=None):
        samples = np.asarray(self.model.sample(self.num, seed=self.seed))
        if samples.dtype != np.uint8 and not np.isfinite(samples).all():  # a black grid would hide the NaN
            print(f"zoo: the samples of epoch {epoch + 1} are not finite (NaN or inf): no sample grid written",
                  flush=True)
            return
        image_grid(samples, os.path.join(self.directory, f"samples-epoch-{epoch + 1:03d}.png"))
