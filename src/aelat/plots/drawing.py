"""A stage's figures drawn in this process, or in worker processes while the stage goes on."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Callable

from aelat import artifacts
from aelat.background import Background


class Figures:
    """Draws ``function(*args, path, **kwargs)`` (an aelat.plots function that writes one file) to ``out(name)``.

    With a ``background`` and ``jobs`` > 1 the function runs in a worker process, which draws into a
    folder of its own and hands the file's bytes back; :meth:`finish` writes them to ``out(name)``
    here, so the stage's outputs are written only by its own process (a killed worker leaves nothing
    in the run). The bytes are those drawing here gives: the same code and matplotlib settings.
    """

    def __init__(self, out: artifacts.Outputs, background: Background | None = None, jobs: int = 1):
        self.out, self.background, self.jobs = out, background, jobs

    def __call__(self, name: str, function: Callable, *args, **kwargs) -> None:
        if self.background is None or self.jobs < 2:
            function(*args, self.out(name), **kwargs)
            return
        self.background.submit(self.jobs, f"the figure {name}", functools.partial(artifacts.write_bytes, self.out(name)),
                               drawn, name, function, args, kwargs)

    def finish(self) -> None:
        """Wait for the figures drawn in workers and write them."""
        if self.background is not None:
            self.background.finish()


def drawn(name: str, function: Callable, args: tuple, kwargs: dict) -> bytes:
    """The bytes of the file ``function`` draws, in a temporary folder of this (worker) process."""
    with tempfile.TemporaryDirectory(prefix="aelat-figure-") as folder:
        path = Path(folder) / name
        function(*args, path, **kwargs)
        return path.read_bytes()
