"""Figures (matplotlib only here), saved as PNG without a screen, atomically.

Importing this module selects the Agg backend and turns matplotlib's mathtext off
(``text.parse_math``): titles and legends hold run, file and class names, where ``$...$`` is
plain text, not a formula to parse (and fail on).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402

from aelat.artifacts import atomic_path  # noqa: E402


def save(fig: plt.Figure, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` as PNG through a temporary file, then close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
