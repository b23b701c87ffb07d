"""The one input check of every metric: points as a 2-D array of finite reals, labels one per point.

scikit-learn's ``check_array`` does the work (shape, dtype, NaN and inf, too few rows); its
message, which can run to several lines with the array printed, becomes one DataError line that
names the argument.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from aelat.errors import DataError

FLOATS = (np.float64, np.float32)  # kept as they are; anything else becomes float64


def check_points(Z: np.ndarray, name: str = "Z", *, min_points: int = 1, dtype=FLOATS) -> np.ndarray:
    """``Z`` as a 2-D float array (n, d) of finite values with n >= ``min_points`` and d >= 1."""
    try:
        return check_array(Z, dtype=dtype, ensure_min_samples=min_points, input_name=name)
    except ValueError as exc:
        reason = str(exc).splitlines()[0]
        if "NaN" in reason or "infinity" in reason:
            reason = "it contains NaN or inf; drop or fix those points first"
        raise DataError(f"{name} (shape {np.shape(Z)}) is not a set of points: {reason}") from None


def check_labels(y: np.ndarray, n: int, name: str = "y", points: str = "Z") -> np.ndarray:
    """``y`` as an array of shape (n,): one label per row of ``points``."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"{name} has shape {y.shape}; expected ({n},), one label per row of {points}")
    return y
