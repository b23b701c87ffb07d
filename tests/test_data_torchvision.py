"""load_torchvision on tiny files written in torchvision's on-disk layout; no network is used."""

from __future__ import annotations

import hashlib
import pickle
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from aelat.data import torchvision_sets
from aelat.data.torchvision_sets import load_torchvision
from aelat.errors import DataError

IDX_SETS = [  # name, torchvision folder, first and last class name
    ("mnist", "MNIST", "0 - zero", "9 - nine"),
    ("fashion_mnist", "FashionMNIST", "T-shirt/top", "Ankle boot"),
    ("kmnist", "KMNIST", "o", "wo"),
]
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ALL_NAMES = ["mnist", "fashion_mnist", "kmnist", "cifar10"]


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: two zero bytes, type 0x08 (uint8), ndim, big-endian uint32 sizes, then the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _idx_images(n: int, offset: int) -> np.ndarray:
    return ((np.arange(n * 28 * 28) + offset) % 256).astype(np.uint8).reshape(n, 28, 28)


def _write_idx_set(root: Path, folder: str) -> dict[str, np.ndarray]:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": _idx_images(12, 0),
        "train-labels-idx1-ubyte": np.arange(12) % 10,
        "t10k-images-idx3-ubyte": _idx_images(5, 7),
        "t10k-labels-idx1-ubyte": np.array([9, 8, 7, 6, 5]),
    }
    arrays["train-images-idx3-ubyte"][3, 5, 7] = 255
    arrays["t10k-images-idx3-ubyte"][4, 27, 0] = 128
    for file, array in arrays.items():
        _write_idx(raw / file, array)
    return arrays


def _write_cifar(root: Path) -> None:
    """Five train batches of 2 images and a test batch of 3, all black but two pixels; their MD5s become
    the published ones (in the copy of the table the ``cifar_md5`` fixture gives each test)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        data = np.zeros((2, 3072), dtype=np.uint8)
        if i == 2:  # image 1 of batch 2 is train image 3; pixel (row 4, column 9): R 255, G 128, B 7
            for channel, value in enumerate((255, 128, 7)):
                data[1, channel * 1024 + 4 * 32 + 9] = value
        batch = {"batch_label": f"training batch {i} of 5", "data": data, "labels": [2 * i - 2, 2 * i - 1]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = np.zeros((3, 3072), dtype=np.uint8)
    test[2, 2 * 1024 + 31 * 32 + 0] = 200  # blue, bottom-left corner
    (folder / "test_batch").write_bytes(pickle.dumps({"data": test, "labels": [3, 1, 4]}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR_CLASSES)}))
    torchvision_sets.CIFAR_MD5.update({p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()})


def _write(name: str, root: Path) -> None:
    if name == "cifar10":
        _write_cifar(root)
    else:
        _write_idx_set(root, next(folder for n, folder, *_ in IDX_SETS if n == name))


@pytest.fixture(autouse=True)
def cifar_md5(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A copy of the published MD5 table for each test, which ``_write_cifar`` fills with its files' MD5s."""
    published = dict(torchvision_sets.CIFAR_MD5)
    monkeypatch.setattr(torchvision_sets, "CIFAR_MD5", published)
    return published


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every urlopen fail as on a machine without network; return the URLs tried."""
    tried: list[str] = []

    def unreachable(request, *args, **kwargs):
        tried.append(getattr(request, "full_url", request))
        raise urllib.error.URLError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    return tried


@pytest.mark.parametrize(("name", "folder", "first_class", "last_class"), IDX_SETS)
def test_idx_set_loads_scaled_channels_first(tmp_path, name, folder, first_class, last_class):
    arrays = _write_idx_set(tmp_path, folder)
    ds = load_torchvision(name, tmp_path, download=False)

    assert ds.name == name
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.x_train.dtype == ds.x_test.dtype == torch.float32
    assert ds.y_train.dtype == ds.y_test.dtype == torch.int64
    assert ds.x_train[3, 0, 5, 7].item() == 1.0
    assert ds.x_test[4, 0, 27, 0].item() == np.float32(128) / np.float32(255)
    expected = arrays["train-images-idx3-ubyte"].astype(np.float32)[:, None] / np.float32(255)
    np.testing.assert_array_equal(ds.x_train.numpy(), expected)
    assert 0.0 <= ds.x_test.min().item() and ds.x_test.max().item() <= 1.0
    assert ds.y_train.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert ds.y_test.tolist() == [9, 8, 7, 6, 5]
    assert isinstance(ds.class_names, tuple) and len(ds.class_names) == 10
    assert ds.class_names[0] == first_class and ds.class_names[-1] == last_class


def test_cifar10_loads_channel_planar_rows_into_channels_rows_columns(tmp_path):
    _write_cifar(tmp_path)
    ds = load_torchvision("cifar10", str(tmp_path), download=False)

    assert ds.name == "cifar10"
    assert ds.x_train.shape == (10, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.x_train.dtype == ds.x_test.dtype == torch.float32
    assert ds.y_train.dtype == ds.y_test.dtype == torch.int64
    assert ds.x_train[3, :, 4, 9].tolist() == [1.0, np.float32(128) / np.float32(255), np.float32(7) / np.float32(255)]
    assert ds.x_train.count_nonzero().item() == 3, "only the R, G, B of one pixel are set"
    assert ds.x_test[2, 2, 31, 0].item() == np.float32(200) / np.float32(255)
    assert ds.x_test.count_nonzero().item() == 1
    assert ds.y_train.tolist() == list(range(10))
    assert ds.y_test.tolist() == [3, 1, 4]
    assert ds.class_names == CIFAR_CLASSES


@pytest.mark.parametrize("name", ALL_NAMES)
def test_download_true_uses_files_already_there_without_network(tmp_path, offline, name):
    _write(name, tmp_path)
    ds = load_torchvision(name, tmp_path, download=True)
    assert len(ds.x_train) == (10 if name == "cifar10" else 12)
    assert offline == []


@pytest.mark.parametrize("name", ALL_NAMES)
def test_no_files_and_no_download_says_where_it_looked_and_what_to_do(tmp_path, name):
    with pytest.raises(DataError) as info:
        load_torchvision(name, tmp_path / "data", download=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: no data under {tmp_path / 'data'} ")
    assert "dataset.root" in message and "dataset.download=true" in message
    assert "dataset=npz dataset.path=FILE.npz" in message
    assert "download failed" not in message


@pytest.mark.parametrize("name", ALL_NAMES)
def test_failed_download_offline_is_one_line_with_the_npz_alternative(tmp_path, offline, name):
    with pytest.raises(DataError) as info:
        load_torchvision(name, tmp_path, download=True)
    message = str(info.value)
    assert offline, "torchvision's download code should have tried the network"
    assert "\n" not in message
    assert message.startswith(f"{name}: no data under {tmp_path} ")
    assert "download failed" in message
    assert "dataset.root" in message and "dataset=npz dataset.path=FILE.npz" in message


def test_cifar10_missing_one_batch_is_no_data(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="cifar10: no data under .*test_batch"):
        load_torchvision("cifar10", tmp_path, download=False)


def test_cifar10_batch_of_wrong_shape_names_the_file(tmp_path, cifar_md5):
    _write_cifar(tmp_path)
    batch = {"data": np.zeros((2, 1024), dtype=np.uint8), "labels": [0, 1]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").write_bytes(pickle.dumps(batch))
    cifar_md5["data_batch_4"] = hashlib.md5(pickle.dumps(batch)).hexdigest()
    with pytest.raises(DataError, match=r"data_batch_4 holds 'data' of shape \(2, 1024\).*expected \(n, 3072\)"):
        load_torchvision("cifar10", tmp_path, download=False)


def test_truncated_idx_file_is_not_reported_as_missing(tmp_path):
    _write_idx_set(tmp_path, "MNIST")
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"mnist: the files in .*MNIST/raw are unreadable \(shape '\[12, 28, 28\]'"):
        load_torchvision("mnist", tmp_path, download=False)


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="unknown torchvision dataset 'svhn'; choose one of: ") as info:
        load_torchvision("svhn", tmp_path, download=False)
    assert all(name in str(info.value) for name in ALL_NAMES)


class _Payload:
    """Unpickling this runs ``touch <marker>``: what a crafted batch file in dataset.root could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_crafted_cifar_batch_runs_no_code(tmp_path, cifar_md5):
    payload = pickle.dumps({"data": _Payload(tmp_path / "proof"), "labels": [0, 1]})
    pickle.loads(payload)  # the payload is live: a plain unpickler runs it
    assert (tmp_path / "proof").exists()

    _write_cifar(tmp_path)
    marker = tmp_path / "marker"
    crafted = pickle.dumps({"data": _Payload(marker), "labels": [0, 1]})
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(crafted)
    real_md5 = dict(cifar_md5)
    cifar_md5["data_batch_3"] = hashlib.md5(crafted).hexdigest()  # even when its MD5 passes, the unpickler refuses it
    with pytest.raises(DataError, match=r"data_batch_3 is not a CIFAR-10 batch \(it refers to posix.system"):
        load_torchvision("cifar10", tmp_path, download=False)
    assert not marker.exists()

    cifar_md5.update(real_md5)  # the published MD5 of the real release's data_batch_3: the file is refused unread
    cifar_md5["data_batch_3"] = torchvision_sets.datasets.CIFAR10.train_list[2][1]
    with pytest.raises(DataError, match=r"data_batch_3 is not the file of the CIFAR-10 release \(its MD5 differs\); "
                                        r"delete .* and set dataset.download=true"):
        load_torchvision("cifar10", tmp_path, download=False)
    assert not marker.exists()


def test_the_published_md5s_are_torchvisions():
    assert torchvision_sets.CIFAR_MD5["data_batch_1"] == "c99cafc152244af753f735de768cd75f"
    assert torchvision_sets.CIFAR_MD5["test_batch"] == "40351d587109b95175f43aff81a1287e"
    assert torchvision_sets.CIFAR_MD5["batches.meta"] == "5ff9c542aee3614f3951f8cda6e48888"
    assert len(torchvision_sets.CIFAR_MD5) == 7
