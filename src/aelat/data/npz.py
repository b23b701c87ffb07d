"""A user's own arrays in an .npz file with keys Xtr, ytr, Xte, yte."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from aelat.data.base import Dataset, to_unit_float
from aelat.errors import DataError
from aelat.runtime import available_memory

KEYS = ("Xtr", "ytr", "Xte", "yte")
# Bytes of memory a loaded element takes at most besides itself: the float32 copy, and one more
# while it is scaled.
FLOAT_COPIES = 8


def load_npz(path: str | Path) -> Dataset:
    """Load images of any shape, uint8 or float, from ``path``.

    Images of shape (n, H, W) become (n, 1, H, W); (n, H, W, C) with C in 1, 3, 4 becomes
    channels-first; (n, D) stays flat. Labels of any integer values are mapped to 0..K-1 in
    sorted order, and their original values become the class names. The arrays' declared shapes
    are checked against the file and the free memory before anything is loaded.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"dataset.path={path} is a folder; point it at an .npz file with {', '.join(KEYS)}")
    if not path.exists():
        raise DataError(f"dataset.path={path} does not exist; point it at an .npz with {', '.join(KEYS)}")
    if not path.is_file():
        raise DataError(f"dataset.path={path} is not a regular file; point it at an .npz file with {', '.join(KEYS)}")
    try:
        check_declared_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({str(exc) or type(exc).__name__}); write it with "
                        "numpy.savez(path, Xtr=..., ytr=..., Xte=..., yte=...)") from None
    except MemoryError:
        raise DataError(f"{path}: its arrays do not fit in memory; use a smaller dataset") from None

    for x_key, y_key in (("Xtr", "ytr"), ("Xte", "yte")):
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected (n, ...) with n >= 1 samples")
        if x.ndim > 4:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected vectors (n, D) or images (n, H, W), "
                            "(n, H, W, C) or (n, C, H, W)")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{path}: {y_key} has shape {y.shape} but {x_key} holds {len(x)} samples")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: {y_key} has dtype {y.dtype}; class labels must be integers")
    if arrays["Xtr"].shape[1:] != arrays["Xte"].shape[1:]:
        raise DataError(f"{path}: Xtr samples have shape {arrays['Xtr'].shape[1:]}, Xte {arrays['Xte'].shape[1:]}")

    labels = np.unique(np.concatenate([arrays["ytr"], arrays["yte"]]))
    if len(labels) < 2:
        raise DataError(f"{path}: all samples have label {labels[0]}; class structure needs >= 2 classes")
    x_train, x_test = to_unit_float({"Xtr": _channels_first(arrays["Xtr"]), "Xte": _channels_first(arrays["Xte"])},
                                    str(path))
    return Dataset(
        name=path.name,
        x_train=x_train,
        y_train=torch.from_numpy(np.searchsorted(labels, arrays["ytr"]).astype(np.int64)),
        x_test=x_test,
        y_test=torch.from_numpy(np.searchsorted(labels, arrays["yte"]).astype(np.int64)),
        class_names=tuple(str(label) for label in labels),
    )


def check_declared_sizes(path: Path) -> None:
    """Refuse, before loading, arrays the file cannot hold or memory cannot: each .npy header's shape
    and dtype give its size, which must match the size the zip declares for that member (a header
    claiming a huge shape over a small file is corrupt), and all of them, with their float32 copies,
    must fit in the available memory (a small compressed file can expand to many GiB).

    Raises
    ------
    DataError
        With the sizes and the fix. A key that is missing is reported here too.
    """
    with zipfile.ZipFile(path) as archive:
        members = {info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        missing = [key for key in KEYS if key not in members]
        if missing:
            raise DataError(
                f"{path} lacks {', '.join(missing)} (has {', '.join(members) or 'nothing'}); it needs {', '.join(KEYS)}"
            )
        needed, described = 0, []
        for key in KEYS:
            info = members[key]
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(member)
            count = int(np.prod(shape, dtype=object))
            nbytes = count * dtype.itemsize
            if dtype.hasobject:
                raise DataError(f"{path}: {key} holds Python objects; store numbers (uint8 or float pixels, integer labels)")
            if nbytes > info.file_size:
                raise DataError(f"{path}: {key} declares shape {shape} ({_gib(nbytes)}) but the file holds "
                                f"{_gib(info.file_size)} for it; the file is corrupt, write it again")
            needed += nbytes + (FLOAT_COPIES * count if key.startswith("X") else 0)
            described.append(f"{key} {shape} {dtype}")
    free = available_memory()
    if free is not None and needed > free:
        raise DataError(f"{path}: loading {', '.join(described)} needs about {_gib(needed)} of memory but "
                        f"{_gib(free)} is available; use a smaller dataset (fewer or smaller images)")


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.3g} MiB"


def _channels_first(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x
