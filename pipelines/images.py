"""Image datasets on disk, read into uint8 arrays [N, H, W, C] (nothing is ever unpickled):

- IDX files, the MNIST format (LeCun, Cortes & Burges; also Fashion-MNIST, EMNIST): two zero bytes, a type byte
  (0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double), the number of dimensions,
  one big-endian 4-byte size per dimension, then the data, big-endian; gzipped or not. A directory holding
  ``train-images-idx3-ubyte[.gz]`` / ``train-labels-idx1-ubyte[.gz]`` and the ``t10k-`` pair is a dataset with
  splits train and test (a ``.`` in place of the last ``-``, and a name prefix such as ``emnist-digits-``, are
  accepted); a single images file is a dataset of one split, with the labels file beside it when there is one.
- CIFAR-10 binary batches (Krizhevsky 2009, the "binary version"): records of 3,073 bytes, a label byte and the red,
  green and blue 32x32 planes, row-major, in ``data_batch_1.bin`` ... ``data_batch_5.bin`` (train) and
  ``test_batch.bin`` (test), class names in ``batches.meta.txt``; the directory may be the one that holds
  ``cifar-10-batches-bin/``.
- Folders of images (CelebA's ``img_align_celeba/``, any photos): every file below the folder with an image
  extension, read with PIL, converted to RGB (or gray for 1 channel), scaled so that it covers the requested size and
  centre-cropped to it. Unreadable files are skipped and reported on stderr. Splits: ``train/``, ``val/`` and
  ``test/`` subfolders when there are any; else CelebA's ``list_eval_partition.txt`` (0 train, 1 val, 2 test) in the
  folder or beside it; else every 10th file in name order is test, the others train. Unlabelled (labels -1).

`source(path)` says whether a path is such a dataset (and which); `load(path, split, shape)` reads a split. A
malformed file (a wrong magic, a truncated file, a size that is not a whole number of records) is one ZooError that
names it.
"""

import concurrent.futures as cf
import dataclasses
import functools
import gzip
import os
import re
import struct
import sys
import zlib

import numpy as np

try:
    from zoo.errors import ZooError
except ImportError:  # pipelines is usable on its own
    ZooError = ValueError

IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_NAME = re.compile(r"(?P<split>train|t10k|test)-(?P<what>images|labels)[-.]idx\d-ubyte(\.gz)?$")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_NAME = re.compile(r"^(data_batch_\d+|test_batch)\.bin$")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
FOLDER_SHAPE = (64, 64, 3)  # what a folder of images gives when no shape is asked for (DCGAN's CelebA size)
PARTITION = "list_eval_partition.txt"


@dataclasses.dataclass(frozen=True)
class ImageSource:
    kind: str  # "idx", "cifar10" or "folder"
    splits: dict  # split -> files (idx: [(images file, labels file or None)])
    class_names: tuple
    shape: tuple  # (H, W, C); a folder's is (None, None, None): the reader makes the size it is asked for
    description: str
    skipped: tuple = ()  # (file, reason) that the split plan already leaves out (a folder's unlisted files)


def _open(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read(path, limit=-1):
    """The bytes of a file, gunzipped when it is gzip data (``limit``: only the first bytes)."""
    try:
        with _open(path) as f:
            return f.read(limit)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ZooError(f"{path}: corrupt gzip data ({e})") from None


def _idx_header(path, data):
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise ZooError(f"{path}: not an IDX file (its first bytes are {data[:4].hex() or 'missing'}, "
                       "want 00 00, a type byte and the number of dimensions)")
    end = 4 + 4 * data[3]
    if len(data) < end:
        raise ZooError(f"{path}: truncated IDX header")
    return np.dtype(IDX_TYPES[data[2]]), struct.unpack(f">{data[3]}I", data[4:end]), end


def read_idx(path):
    """An IDX file as a NumPy array of its shape and type (native byte order)."""
    data = _read(path)
    dtype, dims, start = _idx_header(path, data)
    size = int(np.prod(dims)) * dtype.itemsize
    if len(data) - start != size:
        what = "truncated" if len(data) - start < size else "has trailing bytes"
        raise ZooError(f"{path}: {what}: its header {list(dims)} needs {size} data bytes, it has {len(data) - start}")
    return np.frombuffer(data, dtype, offset=start).reshape(dims).astype(dtype.newbyteorder("="))


def read_cifar10(path):
    """A CIFAR-10 binary batch: (images uint8 [N, 32, 32, 3], labels int64 [N])."""
    data = _read(path)
    if not data or len(data) % CIFAR_RECORD:
        raise ZooError(f"{path}: not a CIFAR-10 binary batch: {len(data)} bytes is not a whole number of "
                       f"{CIFAR_RECORD}-byte records")
    records = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_CLASSES):
        raise ZooError(f"{path}: label {labels.max()} is not a CIFAR-10 class (0-9)")
    return np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels


def read_image(path, size, channels):
    """One image file, converted to ``channels`` (1 or 3), scaled to cover ``size`` (H, W) and centre-cropped."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        (h, w), scale = size, max(size[0] / im.height, size[1] / im.width)
        im = im.resize((max(w, round(im.width * scale)), max(h, round(im.height * scale))), Image.BICUBIC)
        left, top = (im.width - w) // 2, (im.height - h) // 2
        return np.asarray(im.crop((left, top, left + w, top + h)), np.uint8).reshape(h, w, channels)


def read_folder(files, size, channels):
    """(images uint8 [N, H, W, C] of the readable ``files``, [(file, reason)] of the others)."""
    from PIL import Image

    def one(path):
        try:
            return read_image(path, size, channels), None
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            return None, f"{type(e).__name__}: {e}"

    with cf.ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:  # PIL decodes without the GIL
        results = list(pool.map(one, files))
    images = [im for im, _ in results if im is not None]
    skipped = [(f, why) for f, (_, why) in zip(files, results) if why]
    return (np.stack(images) if images else np.zeros((0, *size, channels), np.uint8)), skipped


def _image_files(directory):
    return sorted(os.path.join(root, f) for root, _, names in os.walk(directory) for f in names
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def _idx_source(path, names):
    """The IDX dataset among ``names`` (files of ``path``'s directory), or None."""
    found = {}
    for name in names:
        m = IDX_NAME.search(name)
        if m:
            split = "train" if m["split"] == "train" else "test"
            found.setdefault((split, m["what"]), []).append(os.path.join(path, name))
    if not any(what == "images" for _, what in found):
        return None
    for (split, what), files in found.items():
        if len(files) > 1:
            raise ZooError(f"{path} holds several IDX {split} {what} files ({', '.join(map(os.path.basename, files))})"
                           ": give one of them")
    splits = {s: [(found[s, "images"][0], found.get((s, "labels"), [None])[0])] for s in ("train", "test")
              if (s, "images") in found}
    first, labels = next(iter(splits.values()))[0]
    dtype, dims, _ = _idx_header(first, _read(first, 1024))
    if len(dims) not in (3, 4) or dtype != np.uint8:
        raise ZooError(f"{first}: IDX images must be unsigned bytes [N, H, W] or [N, H, W, C], got {dtype} {dims}")
    classes = ()
    if labels:
        classes = tuple(str(i) for i in range(int(read_idx(labels).max()) + 1))
    count = ", ".join(f"{_idx_header(f, _read(f, 1024))[1][0]} {s}" for s, [(f, _)] in splits.items())
    return ImageSource("idx", splits, classes, (*dims[1:3], dims[3] if len(dims) == 4 else 1),
                       f"IDX images (MNIST format): {count}")


def _cifar_source(path, names):
    batches = sorted(n for n in names if CIFAR_NAME.match(n))
    if not batches:
        return None
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    splits = {}
    for name in batches:
        splits.setdefault("test" if name == "test_batch.bin" else "train", []).append(os.path.join(directory, name))
    classes = CIFAR10_CLASSES
    meta = os.path.join(directory, "batches.meta.txt")
    if os.path.isfile(meta):
        with open(meta) as f:
            classes = tuple(line.strip() for line in f if line.strip())
    count = ", ".join(f"{sum(os.path.getsize(f) for f in files) // CIFAR_RECORD} {s}" for s, files in splits.items())
    return ImageSource("cifar10", splits, classes, (32, 32, 3), f"CIFAR-10 binary batches: {count}")


def _partition(directory):
    for candidate in (os.path.join(directory, PARTITION), os.path.join(os.path.dirname(directory), PARTITION)):
        if os.path.isfile(candidate):
            table = {}
            with open(candidate) as f:
                for number, line in enumerate(f, 1):
                    fields = line.split()
                    if not fields:
                        continue
                    if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                        raise ZooError(f"{candidate}, line {number}: want 'FILE 0|1|2', got {line.strip()!r}")
                    table[fields[0]] = ("train", "val", "test")[int(fields[1])]
            return table
    return None


def _folder_source(path):
    subfolders = [s for s in ("train", "val", "test") if os.path.isdir(os.path.join(path, s))]
    skipped = ()
    if subfolders:
        splits = {s: _image_files(os.path.join(path, s)) for s in subfolders}
        how = "split by subfolder"
    else:
        files, table = _image_files(path), _partition(path)
        if table is not None:
            splits = {s: [f for f in files if table.get(os.path.basename(f)) == s] for s in ("train", "val", "test")}
            skipped = tuple((f, f"not in {PARTITION}") for f in files if os.path.basename(f) not in table)
            how = f"split by {PARTITION}"
        else:
            splits = {"train": [f for i, f in enumerate(files) if i % 10 != 9],
                      "test": [f for i, f in enumerate(files) if i % 10 == 9]}
            how = "every 10th file is test"
    splits = {s: f for s, f in splits.items() if f}
    if not splits:
        return None
    count = ", ".join(f"{len(f)} {s}" for s, f in splits.items())
    return ImageSource("folder", splits, (), (None, None, None), f"folder of images ({how}): {count}", skipped)


def source(path):
    """The image dataset at ``path`` (a directory or a file), or None when it holds none of these formats."""
    if os.path.isfile(path):
        name = os.path.basename(path)
        if IDX_NAME.search(name):
            siblings = [name] + [n for n in os.listdir(os.path.dirname(path) or ".")
                                 if n == re.sub(r"images([-.]idx)\d", r"labels\g<1>1", name)]
            return _idx_source(os.path.dirname(path) or ".", siblings)
        return _cifar_source(path, [name]) if CIFAR_NAME.match(name) else None
    if not os.path.isdir(path):
        return None
    names = os.listdir(path)
    if "cifar-10-batches-bin" in names:
        return source(os.path.join(path, "cifar-10-batches-bin"))
    return _idx_source(path, names) or _cifar_source(path, names) or _folder_source(path)


@functools.lru_cache(maxsize=8)
def load(path, split, shape=None):
    """(images uint8 [N, H, W, C], labels int64 [N], -1 when unlabelled) of ``split`` of the dataset at ``path``.
    ``shape`` (H, W, C): what a folder of images is read at (default 64 x 64 x 3); other formats have their own."""
    src = source(path)
    if src is None:
        raise ZooError(f"{path!r} holds no images in a known format (IDX, CIFAR-10 binary, image files)")
    if split not in src.splits:
        raise ZooError(f"dataset {path!r} has no split {split!r}; its splits: {', '.join(src.splits)}")
    files = src.splits[split]
    if src.kind == "idx":
        (images_file, labels_file), = files
        x = read_idx(images_file)
        x = x[..., None] if x.ndim == 3 else x
        y = read_idx(labels_file).astype(np.int64) if labels_file else np.full(len(x), -1, np.int64)
        if len(y) != len(x):
            raise ZooError(f"{labels_file}: {len(y)} labels for the {len(x)} images of {images_file}")
    elif src.kind == "cifar10":
        parts = [read_cifar10(f) for f in files]
        x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    else:
        h, w, c = shape or FOLDER_SHAPE
        x, skipped = read_folder(files, (h, w), c)
        skipped += [s for s in src.skipped if split == "train"]
        if skipped:
            listing = "; ".join(f"{os.path.relpath(f, path)} ({why})" for f, why in skipped[:10])
            more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            print(f"zoo: {path}: skipped {len(skipped)} file(s) of split {split!r}: {listing}{more}", file=sys.stderr)
        y = np.full(len(x), -1, np.int64)
    x.flags.writeable = y.flags.writeable = False  # cached: shared between callers
    return x, y
