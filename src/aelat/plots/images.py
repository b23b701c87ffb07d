"""Samples as pictures: one image per sample, small PNG/JPEG thumbnails, and sprite sheets."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image


def as_image(sample: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W[, 3]); flat vectors are drawn as a near-square image when they fit one."""
    sample = np.asarray(sample)
    if sample.ndim == 1:
        side = int(round(np.sqrt(sample.size)))
        return sample.reshape(side, side) if side * side == sample.size else sample[None, :]
    if sample.shape[0] < 3:
        return sample[0]
    return np.clip(sample[:3].transpose(1, 2, 0), 0, 1)


def is_image(sample_shape: tuple[int, ...]) -> bool:
    """Whether samples of this shape are pictures: (C, H, W) or (H, W). A flat vector is a feature vector,
    whatever its length (36 features are no 6 x 6 picture); images stored flat are not drawn."""
    return len(sample_shape) >= 2


def pictured(samples: np.ndarray) -> bool:
    """Whether samples (n, *sample_shape) are drawable as pictures: image-shaped (:func:`is_image`) with
    values in [0, 1]; feature vectors (flat, or standardised) are not."""
    return len(samples) > 0 and is_image(samples.shape[1:]) and 0 <= float(samples.min()) and float(samples.max()) <= 1


def to_uint8(samples: np.ndarray, sample_shape: tuple[int, ...]) -> np.ndarray:
    """Samples in [0, 1] (n, *sample_shape) or flattened (n, D) -> uint8 pictures (n, H, W[, 3])."""
    samples = np.asarray(samples).reshape(len(samples), *sample_shape)
    pictures = np.stack([as_image(sample) for sample in samples]) if len(samples) else np.zeros((0, 1, 1))
    return np.round(np.clip(pictures, 0, 1) * 255).astype(np.uint8)


def data_uri(picture: np.ndarray) -> str:
    """A uint8 picture as a ``data:`` URI: lossless PNG for grey, JPEG (quality 90) for colour,
    which is 2-3x smaller on small photographs such as CIFAR's."""
    buffer = io.BytesIO()
    if picture.ndim == 2:
        Image.fromarray(picture).save(buffer, format="PNG", optimize=True)
        kind = "png"
    else:
        Image.fromarray(picture).save(buffer, format="JPEG", quality=90)
        kind = "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sprite(pictures: np.ndarray, max_side: int = 8192) -> tuple[Image.Image, tuple[int, int]]:
    """Tile pictures (n, H, W[, 3]) row by row into a square grid of ceil(sqrt(n)) per side, as
    TensorBoard's projector reads a sprite, no side of which exceeds ``max_side`` pixels
    (thumbnails shrink to fit, keeping their aspect); returns the sheet and the (width, height)
    of one thumbnail."""
    n, height, width = pictures.shape[:3]
    columns = math.ceil(math.sqrt(n))
    scale = min(1.0, max_side / (columns * width), max_side / (columns * height))
    thumb = (max(1, int(width * scale)), max(1, int(height * scale)))
    mode = "L" if pictures.ndim == 3 else "RGB"
    sheet = Image.new(mode, (columns * thumb[0], columns * thumb[1]))
    for i, picture in enumerate(pictures):
        tile = Image.fromarray(picture)
        if tile.size != thumb:
            tile = tile.resize(thumb, Image.Resampling.BOX)
        sheet.paste(tile, ((i % columns) * thumb[0], (i // columns) * thumb[1]))
    return sheet, thumb
