"""2-D maps of a representation: each fits on train points and places test points with ``transform``."""

from __future__ import annotations

from aelat.embedders.pca import pca_map
from aelat.embedders.tsne import tsne_map
from aelat.embedders.umap import umap_map

EMBEDDERS = {"tsne": tsne_map, "pca": pca_map, "umap": umap_map}

__all__ = ["EMBEDDERS"]
