"""`aelat export --tensorboard`: a run's test points as files TensorBoard's embedding projector reads.

The export folder holds, for one seeded sample of test points (the same rows report.html shows
when the caps agree):

    <name>.tsv              one tensor per representation (raw, pca, untrained, latent) and per
                            2-D map, a row per point, tab-separated
    metadata.tsv            a header, then per point its class name and test-set row
    sprite.png              the points' images tiled row by row (image data only; none for
                            embeddings made outside aelat), at most 8192 px a side, the
                            projector's limit: thumbnails shrink to fit
    projector_config.pbtxt  one embedding per tensor, naming its file, the metadata and the sprite
    aelat_export.json       what it was made from: the run, its config hash, the checksums of the
                            artifacts read, the rows, versions

``tensorboard --logdir <folder>`` shows it under "Projector". projector_config.pbtxt is protobuf
text format written by hand (a few fixed fields) so that exporting needs no TensorBoard install;
the tests parse it with TensorBoard's own projector plugin.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import config_hash
from aelat.embedders import EMBEDDERS, REPEATS
from aelat.errors import ArtifactError
from aelat.explorer import sample_test_rows
from aelat.reading import read_regular_bytes

CONFIG = "projector_config.pbtxt"
METADATA = "metadata.tsv"
SPRITE = "sprite.png"
RECORD = "aelat_export.json"
MAX_SPRITE_SIDE = 8192
DEFAULT_FOLDER = "tensorboard"


def export_tensorboard(run: Run, out: Path | None = None, max_points: int | None = 10000) -> Path:
    """Write the projector files of ``run`` into ``out`` (default ``<run>/tensorboard``); returns ``out``.

    The folder is written whole beside ``out`` and renamed into place, replacing an earlier
    export; a folder that holds anything but an aelat export is refused.
    """
    from aelat.plots.images import is_image, sprite, to_uint8

    out = Path(out) if out is not None else run.file(DEFAULT_FOLDER)
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"{out} is a file; export into a folder (--out DIR)")
    if out.exists() and any(out.iterdir()) and not _is_export(out):
        raise ArtifactError(f"{out} holds other files; export into an empty or new folder (--out DIR)")
    inputs = run.require("encode", artifacts.LATENTS)
    stages = run.manifest()["stages"]
    maps = [(m, s) for m in EMBEDDERS for s in artifacts.REPRESENTATIONS
            if artifacts.embedding_stage(m, s) in stages and (m, s) not in REPEATS]
    for method, source in maps:
        inputs |= run.require(artifacts.embedding_stage(method, source), f"{artifacts.embedding_stem(method, source)}.npz")

    # embeddings made outside aelat hold the latent (and with their raw input, raw and pca), no images
    held = artifacts.representations_in(run.file(artifacts.LATENTS))
    images = "examples_input" in artifacts.npz_keys(run.file(artifacts.LATENTS)) and "raw" in held
    keys = ["class_names", "y_test", *(["examples_input"] if images else []),
            *(f"{artifacts.REPRESENTATIONS[name]}_test" for name in held)]
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), keys)
    class_names = np.array([str(name) for name in latents["class_names"]], dtype=object)
    y_test = latents["y_test"]
    rows = sample_test_rows(len(y_test), max_points, run.cfg.seed)
    tensors = {name: latents[f"{artifacts.REPRESENTATIONS[name]}_test"][rows] for name in held}
    for method, source in maps:
        emb = artifacts.read_npz(run.file(f"{artifacts.embedding_stem(method, source)}.npz"), ["test"])
        tensors[f"{method}({source})"] = emb["test"][rows]

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_name(out, "tmp")
    staging.mkdir()
    try:
        files = {name: f"{name.replace('(', '_').rstrip(')')}.tsv" for name in tensors}
        for name, values in tensors.items():
            np.savetxt(staging / files[name], values, fmt="%.7g", delimiter="\t")
        lines = ["class\ttest_index", *(f"{class_names[y]}\t{i}" for y, i in zip(y_test[rows], rows))]
        (staging / METADATA).write_text("\n".join(lines) + "\n")
        thumb = None
        if images and is_image(latents["examples_input"].shape[1:]):
            sample_shape = latents["examples_input"].shape[1:]
            sheet, thumb = sprite(to_uint8(latents["raw_test"][rows], sample_shape), MAX_SPRITE_SIDE)
            sheet.save(staging / SPRITE)
        (staging / CONFIG).write_text(projector_config(files, thumb))
        record = {"run": str(run.path), "config_hash": config_hash(run.cfg, "encode"), "inputs": inputs,
                  "seed": run.cfg.seed, "max_points": max_points, "points": len(rows),
                  "tensors": {name: list(values.shape) for name, values in tensors.items()},
                  "files": sorted([RECORD, *(path.name for path in staging.iterdir())]),
                  "versions": artifacts.versions()}
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n")
        _replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def projector_config(files: dict[str, str], thumb: tuple[int, int] | None) -> str:
    """projector_config.pbtxt (protobuf text format) with one embedding per tensor file."""
    blocks = []
    for name, file in files.items():
        lines = ["embeddings {", f'  tensor_name: "{name}"', f'  tensor_path: "{file}"', f'  metadata_path: "{METADATA}"']
        if thumb is not None:
            lines += ["  sprite {", f'    image_path: "{SPRITE}"', f"    single_image_dim: {thumb[0]}",
                      f"    single_image_dim: {thumb[1]}", "  }"]
        blocks.append("\n".join([*lines, "}"]))
    return "\n".join(blocks) + "\n"


def _is_export(folder: Path) -> bool:
    """Whether ``folder`` holds an aelat export and nothing else: its record lists every file in it (an
    export made before records listed their files: only the names an export writes)."""
    try:
        record = json.loads(read_regular_bytes(folder / RECORD))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    held = list(folder.iterdir())
    if isinstance(record.get("files"), list):
        return all(path.is_file() and path.name in record["files"] for path in held)
    return all(path.is_file() and (path.name in (RECORD, METADATA, CONFIG, SPRITE) or path.suffix == ".tsv")
               for path in held)


def _new_name(out: Path, kind: str) -> Path:
    """A name beside ``out`` that nothing has (``.<name>.<pid>.<random>.<kind>``): made and removed by this
    export alone."""
    return out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _replace_folder(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out`` by renames, so ``out`` is always a whole export (old or new); the old one
    is moved to a new name of its own first, so no other folder is ever removed."""
    if not out.exists():
        staging.rename(out)
        return
    old = _new_name(out, "old")
    out.rename(old)
    staging.rename(out)
    with contextlib.suppress(OSError):
        shutil.rmtree(old)
