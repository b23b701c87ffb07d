"""Figures (matplotlib only here), saved as PNG without a screen, atomically.

Importing this module selects the Agg backend and turns matplotlib's mathtext off
(``text.parse_math``): titles and legends hold run, file and class names, where ``$...$`` is
plain text, not a formula to parse (and fail on). Log axes label their ticks in mathtext
(``$\\mathdefault{10^{-1}}$``), so `save` has them labelled as plain numbers.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import Formatter, LogFormatterMathtext  # noqa: E402

from aelat.artifacts import atomic_path  # noqa: E402


def save(fig: plt.Figure, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` as PNG through a temporary file, then close it."""
    try:
        plain_tick_labels(fig)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)


def plain_tick_labels(fig: plt.Figure) -> None:
    """Label the ticks of every axis whose formatter writes mathtext (log and symlog scales' default) as
    plain numbers ("0.1", "1e-05", "8"), the same ticks as it would label."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for formatter, use in ((axis.get_major_formatter(), axis.set_major_formatter),
                                   (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if isinstance(formatter, LogFormatterMathtext):  # LogFormatterSciNotation is one
                    use(PlainNumbers(formatter))


class PlainNumbers(Formatter):
    """The ticks ``chooser`` labels, labelled ``f"{x:g}"`` instead of its text."""

    def __init__(self, chooser: Formatter):
        self.chooser = chooser

    def __call__(self, x, pos=None) -> str:
        return f"{x:g}" if self.chooser(x, pos) else ""

    def format_ticks(self, values) -> list[str]:
        return [f"{value:g}" if label else "" for value, label in zip(values, self.chooser.format_ticks(values))]
