import numpy as np
import pytest
import torch

from aelat.data import load_dataset
from aelat.data.digits import load_digits
from aelat.data.npz import load_npz
from aelat.config import compose
from aelat.errors import DataError
from conftest import write_npz


def test_digits_is_a_seeded_stratified_split_in_unit_range():
    data = load_digits(test_size=0.25, seed=0)
    assert data.x_train.shape == (1347, 1, 8, 8) and data.x_test.shape == (450, 1, 8, 8)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert float(data.x_train.min()) == 0.0 and float(data.x_train.max()) == 1.0
    assert data.class_names == tuple(str(i) for i in range(10))
    # stratified: each class's share of test matches its share of the whole set within one sample
    whole = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert np.all(np.abs(np.bincount(data.y_test) - whole * 0.25) <= 1)
    again = load_digits(test_size=0.25, seed=0)
    assert torch.equal(again.x_test, data.x_test)
    assert not torch.equal(load_digits(test_size=0.25, seed=1).x_test, data.x_test)


def test_npz_scales_uint8_and_maps_labels(tmp_path):
    ytr = np.array([7, 3, 9, 3, 7, 9] * 5)
    path = write_npz(tmp_path / "d.npz", n_train=30, ytr=ytr, yte=np.array([3, 9, 7, 7]), n_test=4)
    data = load_npz(path)
    raw = np.load(path)
    assert data.x_train.shape == (30, 1, 6, 6)
    np.testing.assert_allclose(data.x_train[:, 0].numpy(), raw["Xtr"] / 255.0, rtol=1e-6)
    assert data.class_names == ("3", "7", "9")
    assert data.y_train.tolist()[:3] == [1, 0, 2] and data.y_test.tolist() == [0, 2, 1, 1]


@pytest.mark.parametrize(
    "shape, sample_shape", [((6, 6), (1, 6, 6)), ((5, 4, 3), (3, 5, 4)), ((3, 5, 4), (3, 5, 4)), ((20,), (20,))]
)
def test_npz_image_layouts(tmp_path, shape, sample_shape):
    data = load_npz(write_npz(tmp_path / "d.npz", shape=shape))
    assert data.sample_shape == sample_shape
    raw = np.load(tmp_path / "d.npz")["Xtr"]
    if shape == (5, 4, 3):  # channels-last input: pixel (r, c) of channel k moves to [k, r, c]
        assert data.x_train[0, 2, 1, 3] == pytest.approx(raw[0, 1, 3, 2] / 255.0)


def test_npz_accepts_floats_in_unit_range(tmp_path):
    xtr, xte = np.random.default_rng(1).random((2, 40, 6, 6))
    data = load_npz(write_npz(tmp_path / "f.npz", Xtr=xtr, Xte=xte[:12].astype(np.float32)))
    np.testing.assert_allclose(data.x_train[:, 0].numpy(), xtr, rtol=1e-6)
    np.testing.assert_allclose(data.x_test[:, 0].numpy(), xte[:12], rtol=1e-6)


def test_npz_refuses_splits_that_would_be_scaled_differently(tmp_path):
    """Float train pixels in [0, 1] beside uint8 test pixels: dividing only the test set by 255 would put
    the two splits on different scales, silently."""
    xtr = np.random.default_rng(1).random((40, 6, 6)).astype(np.float32)
    with pytest.raises(DataError, match=r"Xtr is float32 \(floats\), Xte is uint8 \(integers\).*store every split alike"):
        load_npz(write_npz(tmp_path / "mixed.npz", Xtr=xtr))
    both_integer = write_npz(tmp_path / "ints.npz", Xte=np.full((12, 6, 6), 255, np.int64))
    assert load_npz(both_integer).x_test.max().item() == 1.0  # integers of any width: one rule


@pytest.mark.parametrize(
    "replace, message",
    [
        ({"yte": None}, "lacks yte"),
        ({"ytr": np.arange(39) % 3}, "ytr has shape (39,) but Xtr holds 40 samples"),
        ({"ytr": np.eye(3)[np.arange(40) % 3]}, "labels must be one class per sample, shape (40,): for one-hot "
                                                 "labels store ytr.argmax(axis=1)"),
        ({"ytr": np.linspace(0, 2, 40)}, "class labels must be integers"),
        ({"Xtr": np.full((40, 6, 6), np.nan)}, "NaN or inf"),
        ({"Xtr": np.full((40, 6, 6), 3.5)}, "expected uint8 pixels or floats in [0, 1]"),
        ({"ytr": np.zeros(40, int), "yte": np.zeros(12, int)}, "class structure needs >= 2 classes"),
        ({"Xtr": np.zeros((0, 6, 6), np.uint8), "ytr": np.zeros(0, int)}, "expected (n, ...) with n >= 1"),
        ({"Xte": np.zeros((12, 5, 5), np.uint8)}, "Xtr samples have shape (6, 6), Xte (5, 5)"),
    ],
)
def test_npz_rejects_bad_content_in_one_line(tmp_path, replace, message):
    path = write_npz(tmp_path / "bad.npz", **replace)
    with pytest.raises(DataError) as info:
        load_npz(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert "not a readable .npz" not in str(info.value)  # a readable file with wrong content says just that


def test_npz_missing_or_not_a_zip(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_npz(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="is not a readable .npz file"):
        load_npz(tmp_path / "junk.npz")


def test_registry_dispatches_on_the_config(tmp_path):
    path = write_npz(tmp_path / "d.npz")
    data = load_dataset(compose(["dataset=npz", f"dataset.path={path}"]))
    assert data.name == "d.npz" and len(data.x_train) == 40


def test_npz_that_would_not_fit_in_memory_is_refused_before_loading(tmp_path, monkeypatch):
    """A zip bomb: 400 MB of zeros compress to < 1 MB; the declared sizes are checked against the free
    memory before any array is read."""
    from aelat.data import npz

    path = tmp_path / "bomb.npz"
    zeros = np.zeros((10, 4_000_000), np.uint8)  # 40 MB, and 8 bytes per pixel more once scaled to float
    np.savez_compressed(path, Xtr=zeros, ytr=np.arange(10) % 2, Xte=zeros[:2], yte=np.arange(2))
    assert path.stat().st_size < 1_000_000
    monkeypatch.setattr(npz, "available_memory", lambda: 100 * 2**20)
    loads = []
    monkeypatch.setattr(np, "load", lambda *a, **k: loads.append(a))
    with pytest.raises(DataError, match=r"bomb.npz: loading Xtr \(10, 4000000\) uint8, .* needs about 412 MiB of "
                                        r"memory but 100 MiB is available; use a smaller dataset"):
        load_npz(path)
    assert not loads


def test_npz_header_larger_than_its_file_is_corrupt(tmp_path):
    import io
    import zipfile

    path = write_npz(tmp_path / "d.npz")
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)})
        archive.writestr("Xte.npy", header.getvalue() + bytes(64))
    with pytest.raises(DataError, match=r"Xte declares shape \(1099511627776,\) \(4.1e\+03 GiB\) but the file holds"):
        load_npz(path)


@pytest.mark.parametrize("content, message", [(b"", "File is not a zip file"), (None, "is a folder")])
def test_npz_empty_file_or_a_folder_says_so(tmp_path, content, message):
    path = tmp_path / "d.npz"
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_npz(path)


@pytest.mark.parametrize(
    "replace, message",
    [
        ({"yte": np.array([0, 1, 2, 5] * 3)}, "test class(es) 5 have no training samples"),
        ({"ytr": np.array([0] * 20 + [1] * 19 + [2])}, "class 2 has 1 training sample; every class needs >= 2"),
        ({"Xtr": np.full((40, 6, 6), 9, np.uint8)}, "every training image is the same"),
    ],
)
def test_every_dataset_is_checked_for_what_aelat_cannot_score(tmp_path, replace, message):
    path = write_npz(tmp_path / "d.npz", **replace)
    load_npz(path)  # readable: the check is the registry's, for every loader
    with pytest.raises(DataError) as info:
        load_dataset(compose(["dataset=npz", f"dataset.path={path}"]))
    assert message in str(info.value)
