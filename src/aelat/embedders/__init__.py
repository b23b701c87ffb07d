"""2-D maps of a representation: each fits on train points and places test points with ``transform``."""

from __future__ import annotations

from aelat.embedders.pca import pca_map
from aelat.embedders.tsne import tsne_map

EMBEDDERS = {"tsne": tsne_map, "pca": pca_map}

__all__ = ["EMBEDDERS"]
