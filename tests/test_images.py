"""Image datasets from disk (`pipelines.images`): IDX files, CIFAR-10 binary batches and folders of images, written
here with NumPy and PIL, decode to exactly what was written; malformed files are one clear error each."""

import gzip
import os
import struct

import numpy as np
import pytest
from PIL import Image

from pipelines import datasets, images
from zoo.errors import ZooError


def write_idx(path, array, gz=False):
    code = {np.dtype("uint8"): 0x08, np.dtype(">i2"): 0x0B, np.dtype(">f4"): 0x0D}[array.dtype]
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return path


def test_idx_directory_and_file(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8), rng.integers(0, 10, 7).astype(np.uint8)
    xt, yt = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8), np.array([9, 0, 4], np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y, gz=True)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", xt)  # the dotted spelling of some mirrors, not gzipped
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", yt)

    info = datasets.info(str(tmp_path))
    assert info.kind == "image" and info.splits == ("train", "test") and info.shape == (5, 4, 1)
    assert info.class_names == tuple(str(i) for i in range(int(y.max()) + 1))
    got_x, got_y = datasets.image_arrays(str(tmp_path), "train")
    np.testing.assert_array_equal(got_x, x[..., None])
    np.testing.assert_array_equal(got_y, y)
    got_xt, got_yt = datasets.image_arrays(str(tmp_path / "t10k-images.idx3-ubyte"), "test")  # one file
    np.testing.assert_array_equal(got_xt[..., 0], xt)
    np.testing.assert_array_equal(got_yt, yt)

    # other IDX types are big-endian on disk
    for dtype in (">i2", ">f4"):
        a = rng.normal(0, 100, (2, 3)).astype(dtype)
        np.testing.assert_array_equal(images.read_idx(write_idx(tmp_path / "a.idx", a)), a)


def test_malformed_idx_files_are_one_clear_error(tmp_path):
    good = write_idx(tmp_path / "good", np.zeros((2, 3, 3), np.uint8))
    with open(good, "rb") as f:
        data = f.read()
    cases = {"magic": b"\x08\x03" + data[2:], "truncated": data[:-1], "trailing": data + b"\0",
             "header": data[:9]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ZooError, match=name if name != "magic" else "not an IDX file"):
            images.read_idx(str(tmp_path / name))
    (tmp_path / "bad.gz").write_bytes(gzip.compress(data)[:-12])
    with pytest.raises(ZooError, match="corrupt gzip"):
        images.read_idx(str(tmp_path / "bad.gz"))


def cifar_records(rng, n):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)  # R, G, B planes, row-major
    data = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1).tobytes()
    return data, planes.transpose(0, 2, 3, 1), labels


def test_cifar10_binary_batches(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    want = {}
    for name, n in (("data_batch_1.bin", 4), ("data_batch_2.bin", 3), ("test_batch.bin", 2)):
        data, x, y = cifar_records(rng, n)
        (root / name).write_bytes(data)
        want[name] = (x, y)
    (root / "batches.meta.txt").write_text("\n".join(images.CIFAR10_CLASSES) + "\n\n")

    info = datasets.info(str(tmp_path))  # the folder that holds cifar-10-batches-bin
    assert info.splits == ("train", "test") and info.shape == (32, 32, 3)
    assert info.class_names == images.CIFAR10_CLASSES
    x, y = datasets.image_arrays(str(tmp_path), "train")
    np.testing.assert_array_equal(x, np.concatenate([want["data_batch_1.bin"][0], want["data_batch_2.bin"][0]]))
    np.testing.assert_array_equal(y, np.concatenate([want["data_batch_1.bin"][1], want["data_batch_2.bin"][1]]))
    xt, yt = datasets.image_arrays(str(root / "test_batch.bin"), "test")
    np.testing.assert_array_equal(xt, want["test_batch.bin"][0])
    np.testing.assert_array_equal(yt, want["test_batch.bin"][1])

    (root / "data_batch_3.bin").write_bytes(cifar_records(rng, 2)[0][:-5])
    with pytest.raises(ZooError, match="data_batch_3.bin: not a CIFAR-10 binary batch"):
        images.read_cifar10(str(root / "data_batch_3.bin"))


def test_image_folder_reads_crops_splits_and_reports_unreadable_files(tmp_path, capsys):
    rng = np.random.default_rng(2)
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    written = []
    for i in range(12):
        im = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(im).save(folder / f"{i:06d}.png")
        written.append(im)
    wide = np.zeros((16, 32, 3), np.uint8)
    wide[:, 8:24] = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)  # the centre 16 columns
    Image.fromarray(wide).save(folder / "000012.png")
    (folder / "000013.jpg").write_text("not an image")

    # no split information: every 10th file (in name order) is test
    info = datasets.info(str(folder))
    assert info.kind == "image" and info.shape == (None, None, None) and info.class_names == ()
    x, y = datasets.image_arrays(str(folder), "train", shape=(16, 16, 3))
    assert np.all(y == -1)
    # files 0-8, 10, 11, then 000012 (scaled by 1, centre-cropped); 000013.jpg is skipped, and said so
    np.testing.assert_array_equal(x, np.stack([written[i] for i in (*range(9), 10, 11)] + [wide[:, 8:24]]))
    err = capsys.readouterr().err
    assert "skipped 1 file(s) of split 'train'" in err and "000013.jpg (UnidentifiedImageError" in err
    gray, _ = datasets.image_arrays(str(folder), "test", shape=(8, 8, 1))  # files 9: scaled to 8 x 8, gray
    assert gray.shape == (1, 8, 8, 1)

    # CelebA's partition file beside the folder
    (tmp_path / images.PARTITION).write_text("".join(f"{i:06d}.png {i % 3}\n" for i in range(13)))
    info = datasets.info(str(folder))
    assert info.splits == ("train", "val", "test")
    val, _ = datasets.image_arrays(str(folder), "val", shape=(16, 16, 3))
    np.testing.assert_array_equal(val, np.stack([written[i] for i in (1, 4, 7, 10)]))
    (tmp_path / images.PARTITION).write_text("000000.png 0\n000001.png train\n")
    with pytest.raises(ZooError, match="line 2"):
        datasets.info(str(folder))


def test_folder_trains_a_model_at_its_size(tmp_path):
    """The training path reads a folder of images at the model's input size."""
    import zoo
    from zoo.training import data as zdata

    rng = np.random.default_rng(3)
    os.makedirs(tmp_path / "train")
    os.makedirs(tmp_path / "test")
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(
            tmp_path / ("train" if i < 4 else "test") / f"{i}.jpg")
    net = zoo.build("autoencoder-conv", "tiny", height=24, width=20, channels=3)
    info = zoo.model_info("autoencoder-conv")
    zdata.check(info, datasets.info(str(tmp_path)), model=net)
    batch = next(iter(zdata.dataset(info, net, str(tmp_path), "train", 4, training=True, seed=0)))
    assert batch.shape == (4, 24, 20, 3) and float(batch.numpy().max()) <= 1.0
    net.compile()
    history = net.fit(zdata.dataset(info, net, str(tmp_path), "train", 2, training=True), verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][-1])
