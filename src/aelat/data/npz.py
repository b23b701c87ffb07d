"""A user's own arrays in an .npz file with keys Xtr, ytr, Xte, yte (and optionally class_names)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from aelat.data.base import Dataset, check_label_shape, scale_features, with_class_names
from aelat.errors import DataError
from aelat.labels import encode_labels
from aelat.runtime import available_memory

KEYS = ("Xtr", "ytr", "Xte", "yte")
NAMES = "class_names"  # optional: one name per class, in sorted label order
# Bytes of memory a loaded element of a sample array takes at most besides itself: the float32 copy,
# and one more while it is scaled.
FLOAT_COPIES = 8


def load_npz(path: str | Path, scale: str = "unit") -> Dataset:
    """Load images of any shape, uint8 or float, or feature vectors, from ``path``.

    Images of shape (n, H, W) become (n, 1, H, W); (n, H, W, C) with C in 1, 3, 4 becomes
    channels-first; (n, D) stays flat. ``scale``: see :func:`aelat.data.base.scale_features`. Labels of
    any integer or string values are mapped to 0..K-1 in sorted order, and their original values
    become the class names, unless the file holds ``class_names``. The arrays' declared shapes are
    checked against the file and the free memory before anything is loaded.
    """
    path = Path(path)
    arrays = read_arrays(path, KEYS, optional=(NAMES,), key="dataset.path")

    for x_key, y_key in (("Xtr", "ytr"), ("Xte", "yte")):
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected (n, ...) with n >= 1 samples")
        if x.ndim > 4:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected vectors (n, D) or images (n, H, W), "
                            "(n, H, W, C) or (n, C, H, W)")
        check_label_shape(y, len(x), str(path), y_key, x_key)
    if arrays["Xtr"].shape[1:] != arrays["Xte"].shape[1:]:
        raise DataError(f"{path}: Xtr samples have shape {arrays['Xtr'].shape[1:]}, Xte {arrays['Xte'].shape[1:]}")

    y_train, y_test, class_names = encode_labels(arrays["ytr"], arrays["yte"], str(path))
    x_train, x_test = scale_features({"Xtr": _channels_first(arrays["Xtr"]), "Xte": _channels_first(arrays["Xte"])},
                                     scale, str(path))
    data = Dataset(
        name=path.name,
        x_train=x_train,
        y_train=torch.from_numpy(y_train),
        x_test=x_test,
        y_test=torch.from_numpy(y_test),
        class_names=class_names,
    )
    names = arrays.get(NAMES)
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise DataError(f"{path}: {NAMES} has shape {names.shape} and dtype {names.dtype}; expected a 1-D str array")
    return with_class_names(data, None if names is None else list(names), f"{path}:{NAMES}")


def read_arrays(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = (), key: str = "the file") -> dict:
    """The arrays ``keys`` (and those of ``optional`` it holds) of a user's .npz, after
    :func:`check_declared_sizes`; DataError when it cannot. ``key`` names the file in messages."""
    needs = f"an .npz file with {', '.join(keys)}"
    if path.is_dir():
        raise DataError(f"{key}={path} is a folder; point it at {needs}")
    if not path.exists():
        raise DataError(f"{key}={path} does not exist; point it at {needs}")
    if not path.is_file():
        raise DataError(f"{key}={path} is not a regular file; point it at {needs}")
    try:
        present = check_declared_sizes(path, keys, optional)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in present}
    except DataError:  # check_declared_sizes' own message (a ValueError too) says what is wrong already
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        savez = ", ".join(f"{name}=..." for name in keys)
        raise DataError(f"{path} is not a readable .npz file ({str(exc) or type(exc).__name__}); write it with "
                        f"numpy.savez(path, {savez})") from None
    except MemoryError:
        raise DataError(f"{path}: its arrays do not fit in memory; use a smaller dataset") from None
    return arrays


def check_declared_sizes(path: Path, keys: tuple[str, ...] = KEYS, optional: tuple[str, ...] = ()) -> list[str]:
    """Refuse, before loading, arrays the file cannot hold or memory cannot: each .npy header's shape
    and dtype give its size, which must match the size the zip declares for that member (a header
    claiming a huge shape over a small file is corrupt), and all of them, with their float32 copies,
    must fit in the available memory (a small compressed file can expand to many GiB).

    Returns
    -------
    list of str
        ``keys`` and those of ``optional`` the file holds.

    Raises
    ------
    DataError
        With the sizes and the fix. A key that is missing is reported here too.
    """
    with zipfile.ZipFile(path) as archive:
        members = {info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        missing = [name for name in keys if name not in members]
        if missing:
            raise DataError(
                f"{path} lacks {', '.join(missing)} (has {', '.join(members) or 'nothing'}); it needs {', '.join(keys)}"
            )
        present = [*keys, *(name for name in optional if name in members)]
        needed, described = 0, []
        for name in present:
            info = members[name]
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(member)
            count = int(np.prod(shape, dtype=object))
            nbytes = count * dtype.itemsize
            if dtype.hasobject:
                raise DataError(f"{path}: {name} holds Python objects; store numbers (uint8 or float pixels) and "
                                "labels as integers or str arrays")
            if nbytes > info.file_size:
                raise DataError(f"{path}: {name} declares shape {shape} ({_gib(nbytes)}) but the file holds "
                                f"{_gib(info.file_size)} for it; the file is corrupt, write it again")
            needed += nbytes + (FLOAT_COPIES * count if len(shape) >= 2 else 0)
            described.append(f"{name} {shape} {dtype}")
    free = available_memory()
    if free is not None and needed > free:
        raise DataError(f"{path}: loading {', '.join(described)} needs about {_gib(needed)} of memory but "
                        f"{_gib(free)} is available; use a smaller dataset (fewer or smaller images)")
    return present


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.3g} MiB"


def _channels_first(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x
