"""The in-memory dataset every loader returns, what every loader shares (scaling, labels), and the checks
every dataset passes."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from aelat.errors import ConfigError, DataError
from aelat.schema import SCALES

if TYPE_CHECKING:
    import torch

MIN_PER_CLASS = 2  # class statistics (silhouette, class moments, within-class distances) need two points
# Largest magnitude taken as it is: squared and summed over dimensions and points (distances, variances,
# losses) larger values overflow float32's 3.4e38 into inf, and every score computed from them is wrong.
LARGEST_VALUE = 1e15


@dataclass(frozen=True)
class Dataset:
    """Train and test images held once in memory as tensors.

    Attributes
    ----------
    x_train, x_test : torch.Tensor, float32, shape (n, *sample_shape)
        Pixels scaled to [0, 1], or features scaled as ``dataset.scale`` says; ``sample_shape`` is
        (C, H, W) for images, (D,) for flat data.
    y_train, y_test : torch.Tensor, int64, shape (n,)
        Class labels in ``range(len(class_names))``.
    class_names : tuple of str
        Human-readable name of each class, used in legends.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        return int(np.prod(self.sample_shape))

    @property
    def unit_range(self) -> bool:
        """Whether every value lies in [0, 1], so that a decoder may end in a sigmoid."""
        return all(float(x.min()) >= 0 and float(x.max()) <= 1 for x in (self.x_train, self.x_test) if x.numel())


def scale_features(arrays: Mapping[str, np.ndarray], scale: str, source: str) -> list[torch.Tensor]:
    """The arrays (train split first) as float32 tensors, scaled by ``scale``: "unit" = pixels
    (:func:`to_unit_float`); "minmax", "standard" = scikit-learn's MinMaxScaler, StandardScaler fitted on
    the train split alone (no test statistic leaks into the features); "none" = the values as they are."""
    if scale == "unit":
        return to_unit_float(arrays, source)
    if scale not in SCALES:
        raise ConfigError(f"dataset.scale={scale!r} is not one of {', '.join(SCALES)}")
    import torch  # here, not at the top: aelat.data.files (embed, evaluate) must not load torch

    values = [_numbers(x, f"{source}:{name}") for name, x in arrays.items()]
    if scale == "none":
        for name, x in zip(arrays, values):
            check_magnitude(x, f"{source}: {name}", "scale them (dataset.scale=standard)")
    else:
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        scaler = (MinMaxScaler if scale == "minmax" else StandardScaler)().fit(values[0].reshape(len(values[0]), -1))
        values = [scaler.transform(x.reshape(len(x), -1)).astype(np.float32).reshape(x.shape) for x in values]
    return [torch.from_numpy(x) for x in values]


def with_class_names(data: Dataset, names: Sequence[str] | None, source: str, error: type = DataError) -> Dataset:
    """``data`` with its classes renamed to ``names`` (one per class, in label order); unchanged for None."""
    if names is None:
        return data
    names = tuple(str(name) for name in names)
    if len(names) != len(data.class_names):
        raise error(f"{source} gives {len(names)} class names but the data has {len(data.class_names)} classes "
                    f"({', '.join(data.class_names)}); give one name per class, in that order")
    return dataclasses.replace(data, class_names=names)


def check_label_shape(y: np.ndarray, n: int, source: str, y_key: str, x_key: str) -> None:
    """One label per sample: a 1-D array of length ``n``; one-hot (or other 2-D) labels are named as such."""
    if y.ndim == 2 and len(y) == n:
        raise DataError(f"{source}: {y_key} has shape {y.shape}, a row of {y.shape[1]} values per sample; labels "
                        f"must be one class per sample, shape ({n},): for one-hot labels store {y_key}.argmax(axis=1)")
    if y.shape != (n,):
        raise DataError(f"{source}: {y_key} has shape {y.shape} but {x_key} holds {n} samples; "
                        f"expected one label per sample, shape ({n},)")


def check_magnitude(x: np.ndarray, source: str, fix: str) -> None:
    """Raise DataError when a value of ``x`` exceeds :data:`LARGEST_VALUE` in magnitude."""
    top = float(np.abs(x).max()) if x.size else 0.0
    if top > LARGEST_VALUE:
        raise DataError(f"{source} values reach {top:.3g}: beyond {LARGEST_VALUE:.0e} their squares overflow float32 "
                        f"and every distance and variance is wrong; {fix}")


def _numbers(x: np.ndarray, source: str) -> np.ndarray:
    """``x`` as a non-empty, finite float32 array."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{source}: values have dtype {x.dtype}; expected integers or floats")
    if x.size == 0:
        raise DataError(f"{source}: the dataset is empty; give it at least one sample per split")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{source}: values contain NaN or inf; clean the data before loading it")
    return x


def check_dataset(dataset: Dataset, source: str) -> Dataset:
    """Refuse data aelat cannot learn from or score fairly: identical training images (nothing to learn,
    maps of NaN), a test class absent from train (no classifier can predict it, so accuracy would be
    silently low), or a class with fewer than two training samples."""
    train = Counter(dataset.y_train.tolist())
    absent = sorted(set(dataset.y_test.tolist()) - set(train))
    if absent:
        names = ", ".join(dataset.class_names[label] for label in absent[:5])
        raise DataError(
            f"{source}: test class(es) {names}{' ...' if len(absent) > 5 else ''} have no training samples, so "
            "no classifier can predict them; add them to the training split or drop them from the test split"
        )
    scarce = sorted(label for label, count in train.items() if count < MIN_PER_CLASS)
    if scarce:
        label = scarce[0]
        raise DataError(
            f"{source}: class {dataset.class_names[label]} has {train[label]} training sample; every class needs "
            f">= {MIN_PER_CLASS} (class statistics need two points): add samples or drop the class"
        )
    if bool((dataset.x_train == dataset.x_train[:1]).all()):
        raise DataError(f"{source}: every training image is the same, so there is nothing to learn or map; "
                        "check the file holds the images you meant")
    return dataset


def to_unit_float(arrays: Mapping[str, np.ndarray], source: str) -> list[torch.Tensor]:
    """Scale pixels to float32 in [0, 1], every array by the same rule: integers in [0, 255] are divided
    by 255, floats must lie in [0, 1]. Integer and float arrays together are refused, since they would
    be scaled differently (uint8 test images beside float train images)."""
    import torch  # here, not at the top: aelat.data.files (embed, evaluate) must not load torch

    scaled, kinds = [], {}
    for name, x in arrays.items():
        x = np.asarray(x)
        is_integer = np.issubdtype(x.dtype, np.integer)
        if not (is_integer or np.issubdtype(x.dtype, np.floating)):
            raise DataError(f"{source}: {name} pixels have dtype {x.dtype}; expected uint8 or float")
        kinds[name] = f"{x.dtype} ({'integers' if is_integer else 'floats'})"
        x = x.astype(np.float32)
        if x.size == 0:
            raise DataError(f"{source}: the dataset is empty; give it at least one sample per split")
        if not np.isfinite(x).all():
            raise DataError(f"{source}: {name} pixels contain NaN or inf; clean the data before loading it")
        lo, hi = float(x.min()), float(x.max())
        if is_integer and 0 <= lo and hi <= 255:
            scaled.append((True, x / 255.0))
        elif lo < 0 or hi > 1:
            raise DataError(f"{source}: {name} pixel values span [{lo:g}, {hi:g}]; expected uint8 pixels or floats in "
                            "[0, 1] (features that are not pixels: dataset.scale=standard, minmax or none)")
        else:
            scaled.append((is_integer, x))
    if len({divided for divided, _ in scaled}) > 1:
        described = ", ".join(f"{name} is {kind}" for name, kind in kinds.items())
        raise DataError(f"{source}: {described}, which would be scaled differently; store every split alike, "
                        "as uint8 pixels or as floats in [0, 1]")
    return [torch.from_numpy(x) for _, x in scaled]
