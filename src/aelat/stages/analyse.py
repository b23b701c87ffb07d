"""Stage: why Q looks as it does — over training, layer by layer, and in the encoder's Jacobian.

Works on the seeded sample of train and test points train drew for its snapshots
(:func:`aelat.data.sample.draw_sample`). Writes:

* dynamics.csv, dynamics_maps.npz, dynamics_points.npz (when train took snapshots): per snapshot
  epoch the class structure of the sample's codes (:func:`aelat.metrics.profile.separation_profile`),
  with the raw input, PCA and the untrained encoder on the same sample as baselines; the aligned
  2-D maps (:func:`aelat.metrics.alignment.aligned_maps`); per snapshot the per-point evidence of
  :func:`aelat.metrics.profile.point_evidence`, for paired comparisons of two epochs;
* layers.csv, layers_points.npz: every hidden layer of the trained and the untrained encoder, raw
  input first and latent last, with the TwoNN dimension's interval
  (:func:`aelat.metrics.distribution.twonn_interval`), the distance of each layer's distribution
  to the next one's (:func:`aelat.metrics.layers.layer_distance`) and, per layer, the per-point
  evidence for paired comparisons of two layers;
* geometry.csv, geometry.npz: the Jacobian of g (trained, untrained) and PCA's projection at
  analyse.geometry_points sample points (:mod:`aelat.metrics.geometry`);
* holes.json, holes.npz (model=vae): prior draws in holes of Q (:func:`aelat.metrics.holes.prior_holes`)
  and decodings from holes and from covered regions.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Callable

import numpy as np
import torch
from omegaconf import OmegaConf

from aelat import artifacts, content_store
from aelat.artifacts import Run
from aelat.config import resolve_device
from aelat.content_store import ContentStore
from aelat.data import load_dataset
from aelat.data.sample import Sample, draw_sample
from aelat.errors import ArtifactError
from aelat.metrics.alignment import aligned_maps
from aelat.metrics.distribution import twonn_interval
from aelat.metrics.geometry import GEOMETRY_COLUMNS, geometry_summary, local_geometry, neighbour_directions
from aelat.metrics.holes import prior_holes
from aelat.metrics.layers import layer_distance
from aelat.metrics.profile import DIMENSION_LEVEL, PROFILE_METRICS, point_evidence, separation_profile
from aelat.models import Autoencoder, initial_model, load_checkpoint
from aelat.models.inference import reconstruction_mse
from aelat.models.probes import encoder_layers, jacobians, layer_names
from aelat.runtime import denormals_flushed, progress_bar, use_threads

DYNAMICS_COLUMNS = ("representation", "epoch", "knn_accuracy", *PROFILE_METRICS, "recon_mse")
LAYER_METRICS = ("between_class_variance_share", "sw_between_classes")
LAYER_COLUMNS = ("encoder", "layer", "name", "dim", "knn_accuracy", *LAYER_METRICS, "twonn_dimension", "twonn_dimension_low",
                 "twonn_dimension_high", "sw_to_next")
HOLE_EXAMPLES = 8  # decodings shown from holes and from covered regions each
ACTIVE_VARIANCE = 0.5  # a latent dimension whose posterior variance averages above this carries little about x
PROFILES = content_store.FOLDER / "profiles"  # under output_dir


def run(run: Run) -> list[str]:
    """Compute and write the analyses; returns the names of the artifacts written."""
    with denormals_flushed():  # first: torch's threads copy the setting when they start
        return _run(run)


def _run(run: Run) -> list[str]:
    cfg = run.cfg
    started = time.perf_counter()
    use_threads(cfg.get("threads"))
    inputs = run.require("train", artifacts.MODEL) | run.require("encode", artifacts.LATENTS)
    with_snapshots = artifacts.SNAPSHOTS in run.manifest()["stages"]["train"]["outputs"]
    if with_snapshots:
        inputs |= run.require("train", artifacts.SNAPSHOTS)
    data = load_dataset(cfg)
    run.dataset_digest()  # of the files just read, for run.json
    sample = draw_sample(cfg, len(data.x_train), len(data.x_test))
    device = resolve_device(cfg)
    trained = load_checkpoint(run.file(artifacts.MODEL), device)
    untrained = initial_model(cfg, data).to(device)
    x = {"train": data.x_train[sample.train].to(device), "test": data.x_test[sample.test].to(device)}
    y = {"train": data.y_train[sample.train].numpy(), "test": data.y_test[sample.test].numpy()}
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), ["raw_train", "raw_test", "pca_train", "pca_test",
                                                              "untrained_train", "untrained_test", "pca_components",
                                                              "pca_mean", "z_train", "z_test"])
    if cfg.model.name == "vae":
        latents |= artifacts.read_npz(run.file(artifacts.LATENTS), ["z_logvar_train"])
    encoders = {"trained": trained, "untrained": untrained}
    remembered = Remembered(run)
    with run.making("analyse", inputs, started) as out, progress_bar() as bar:
        task = bar.add_task(f"analyse {run.path.name}", total=4, status="dynamics")
        if with_snapshots:
            write_dynamics(run, sample, latents, untrained, x["test"], y, out, remembered)
        bar.update(task, advance=1, status="layers")
        rows, evidence = layer_profile(cfg, encoders, x, y, remembered)
        _write_csv(out(artifacts.LAYERS), LAYER_COLUMNS, rows)
        artifacts.write_npz(out(artifacts.LAYERS_POINTS), **evidence)
        bar.update(task, advance=1, status="geometry")
        summaries, arrays = geometry(cfg, encoders, sample, x["train"], y["train"], latents["pca_components"])
        rows = [{"encoder": encoder, "class": name, **values}
                for encoder, per_class in summaries.items() for name, values in per_class.items()]
        _write_csv(out(artifacts.GEOMETRY), ("encoder", "class", *GEOMETRY_COLUMNS), rows)
        artifacts.write_npz(out(artifacts.GEOMETRY_ARRAYS), **arrays)
        bar.update(task, advance=1, status="holes" if cfg.model.name == "vae" else "")
        if cfg.model.name == "vae":
            holes, decodings = prior_holes_of(cfg, trained, latents["z_train"], latents["z_test"],
                                              latents["z_logvar_train"], device)
            artifacts.write_json(out(artifacts.HOLES), holes)
            artifacts.write_npz(out(artifacts.HOLES_ARRAYS), **decodings)
        bar.update(task, advance=1, status="")
        written = list(out.files)
    return written


def write_dynamics(run: Run, sample: Sample, latents: dict, untrained: Autoencoder, x_test: torch.Tensor,
                   y: dict, out: artifacts.Outputs, remembered: Remembered) -> None:
    """dynamics.csv and dynamics_maps.npz, written to ``out(name)``, from train's snapshots.npz."""
    snapshots = artifacts.read_npz(run.file(artifacts.SNAPSHOTS))
    if not (np.array_equal(snapshots["train_index"], sample.train) and np.array_equal(snapshots["test_index"], sample.test)):
        raise ArtifactError(f"{run.file(artifacts.SNAPSHOTS)} holds another sample than this config draws; "
                            "re-run `aelat train`")
    rows, evidence = dynamics(run.cfg, snapshots, sample, latents, untrained, x_test, y, remembered)
    _write_csv(out(artifacts.DYNAMICS), DYNAMICS_COLUMNS, rows)
    artifacts.write_npz(out(artifacts.DYNAMICS_POINTS), epochs=snapshots["epochs"],
                        **{key: np.stack([point[key] for point in evidence]) for key in evidence[0]})
    n_train = len(sample.train)
    maps = aligned_maps([np.concatenate(codes) for codes in zip(snapshots["train"], snapshots["test"])],
                        fit_rows=np.arange(n_train))
    artifacts.write_npz(out(artifacts.DYNAMICS_MAPS), epochs=snapshots["epochs"],
                        train=maps[:, :n_train].astype(np.float32), test=maps[:, n_train:].astype(np.float32),
                        y_train=y["train"], y_test=y["test"])


def dynamics(cfg, snapshots: dict, sample: Sample, latents: dict, untrained: Autoencoder, x_test: torch.Tensor,
             y: dict, remembered: Remembered) -> tuple[list[dict], list[dict[str, np.ndarray]]]:
    """dynamics.csv's rows, the raw, PCA and untrained baselines on the sample, then the latent at each
    snapshot; and each snapshot's per-point evidence."""
    raw_test = latents["raw_test"][sample.test]
    pca_test = latents["pca_test"][sample.test]
    pca_recon = pca_test @ latents["pca_components"] + latents["pca_mean"]
    recon = {"raw": 0.0, "pca": float(np.mean((pca_recon - raw_test) ** 2)),
             "untrained": reconstruction_mse(untrained, x_test)}
    rows = []
    for name in ("raw", "pca", "untrained"):
        scores, _ = measured(cfg, remembered, latents[f"{name}_train"][sample.train],
                             latents[f"{name}_test"][sample.test], y, PROFILE_METRICS)
        rows.append({"representation": name, "epoch": "", **scores, "recon_mse": recon[name]})
    evidence = []
    for index, epoch in enumerate(snapshots["epochs"]):
        scores, points = measured(cfg, remembered, snapshots["train"][index], snapshots["test"][index], y,
                                  PROFILE_METRICS)
        rows.append({"representation": "latent", "epoch": int(epoch), **scores,
                     "recon_mse": float(snapshots["recon_mse"][index])})
        evidence.append(points)
    return rows, evidence


def measured(cfg, remembered: Remembered, z_train: np.ndarray, z_test: np.ndarray, y: dict,
             metrics: tuple[str, ...]) -> tuple[dict, dict[str, np.ndarray]]:
    """A representation's kNN accuracy and ``metrics`` (:func:`separation_profile`) on the sample, and
    its per-point evidence (:func:`point_evidence`), whose knn_correct gives the accuracy: one
    neighbour search."""
    settings = OmegaConf.to_container(cfg.analyse.profile)
    evidence = remembered.arrays(point_evidence, z_train, y["train"], z_test, y["test"], knn_k=settings["knn_k"],
                                 valid=lambda points: _evidence_of(points, len(z_train), len(z_test)))
    scores = remembered(separation_profile, z_train, y["train"], z_test, y["test"], metrics=metrics,
                        n_directions=settings["n_directions"], id_samples=settings["id_samples"], seed=cfg.seed)
    return {"knn_accuracy": float(evidence["knn_correct"].mean()), **scores}, evidence


def layer_profile(cfg, encoders: dict[str, Autoencoder], x: dict, y: dict,
                  remembered: Remembered) -> tuple[list[dict], dict[str, np.ndarray]]:
    """layers.csv's rows, every layer of each encoder on the sample (the raw input, layer 0, is
    scored once), and layers_points.npz's arrays: the rows' per-point evidence, stacked in row order."""
    n_train = len(x["train"])
    settings = cfg.analyse.profile
    rows, evidence, input_scores = [], [], None
    for encoder, model in encoders.items():
        layers = encoder_layers(model, torch.cat([x["train"], x["test"]]))
        for index, (name, Z) in enumerate(zip(layer_names(model), layers)):
            if index == 0 and input_scores is not None:
                scores = input_scores
            else:
                scores, points = measured(cfg, remembered, Z[:n_train], Z[n_train:], y, LAYER_METRICS)
                scores["evidence"] = points
                dimension = remembered(twonn_interval, Z, n_samples=settings.id_samples,
                                       n_resamples=settings.id_resamples, level=DIMENSION_LEVEL, seed=cfg.seed)
                scores |= {"twonn_dimension": dimension["dimension"], "twonn_dimension_low": dimension["low"],
                           "twonn_dimension_high": dimension["high"]}
            if index == 0:
                input_scores = scores
            to_next = "" if index == len(layers) - 1 else remembered(
                layer_distance, Z, layers[index + 1], **OmegaConf.to_container(cfg.analyse.layer_distance),
                seed=cfg.seed)
            evidence.append(scores["evidence"])
            rows.append({"encoder": encoder, "layer": index, "name": name, "dim": Z.shape[1],
                         **{key: value for key, value in scores.items() if key != "evidence"}, "sw_to_next": to_next})
    return rows, {key: np.stack([point[key] for point in evidence]) for key in evidence[0]}


class Remembered:
    """analyse's measurements through the output_dir's profile cache (aelat.content_store): one of the
    same points with the same parameters, seed and code is computed once per output_dir, so the raw
    input's rows and the untrained encoder's first layers, the same in every run of a latent-size
    sweep, are measured once. ``analyse.cache=false`` turns it off."""

    def __init__(self, run: Run):
        cached = run.cfg.analyse.get("cache", True)
        self.store = ContentStore(run.path.parent / PROFILES if cached else None, "profile cache", "analysing")
        self.code = artifacts.code_versions()

    def __call__(self, function: Callable, *arrays: np.ndarray, **parameters):
        """``function(*arrays, **parameters)`` (numbers, or a mapping of names to numbers), from the
        cache when it holds it."""
        return self.store.json_or_compute(self._name(function, arrays, parameters),
                                          lambda: function(*arrays, **parameters), _numbers)

    def arrays(self, function: Callable, *arrays: np.ndarray, valid: Callable[[dict], bool],
               **parameters) -> dict[str, np.ndarray]:
        """``function(*arrays, **parameters)`` (a mapping of names to arrays), from the cache when it
        holds one that is ``valid``."""
        name = self._name(function, arrays, parameters)
        return self.store.arrays_or_compute(name, lambda: function(*arrays, **parameters), valid)

    def _name(self, function: Callable, arrays, parameters: dict) -> str:
        return content_store.key(kind=function.__name__, points=content_store.digest(arrays), parameters=parameters,
                                 code=self.code)


def _evidence_of(points: dict, n_train: int, n_test: int) -> bool:
    """Whether ``points`` has the form of :func:`point_evidence`'s arrays for the sample's sizes."""
    correct, influence = points.get("knn_correct"), points.get("share_influence")
    return set(points) == {"knn_correct", "share_influence"} and correct.dtype == bool \
        and correct.shape == (n_test,) and influence.shape == (n_train + n_test,) \
        and bool(np.isfinite(influence).all())


def _numbers(value) -> bool:
    """Whether ``value`` is a number or a mapping of names to numbers."""
    values = value.values() if isinstance(value, dict) else [value]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def geometry(cfg, encoders: dict[str, Autoencoder], sample: Sample, x_train: torch.Tensor, y_train: np.ndarray,
             pca_components: np.ndarray) -> tuple[dict, dict]:
    """Per encoder (and PCA) the per-class summaries of the Jacobian at the geometry points, and geometry.npz's arrays."""
    flat = x_train.reshape(len(x_train), -1).cpu().numpy()
    u_same, u_other = neighbour_directions(flat, y_train, sample.geometry)
    points, labels = x_train[torch.from_numpy(sample.geometry).to(x_train.device)], y_train[sample.geometry]
    per_point = {}
    for encoder, model in encoders.items():
        parts, start = [], 0
        for J in jacobians(model, points):
            rows = slice(start, start + len(J))
            parts.append(local_geometry(J, u_same[rows], u_other[rows]))
            start += len(J)
        per_point[encoder] = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    per_point["pca"] = local_geometry(pca_components, u_same, u_other)  # PCA's Jacobian: its projection, everywhere
    arrays = {"y": labels, "index": sample.train[sample.geometry]}
    for encoder, values in per_point.items():
        arrays |= {f"{encoder}.{key}": value for key, value in values.items()}
    return {encoder: geometry_summary(values, labels) for encoder, values in per_point.items()}, arrays


def prior_holes_of(cfg, vae: Autoencoder, codes: np.ndarray, held_out: np.ndarray, logvar: np.ndarray,
                   device) -> tuple[dict, dict]:
    """holes.json's summary and holes.npz's decodings of a few prior draws from holes and from covered regions.

    The summary adds the same measure restricted to the active dimensions (mean posterior variance
    below ACTIVE_VARIANCE): in a collapsed dimension every posterior is ≈ N(0, 1) and every mean ≈ 0,
    so a prior draw is far from all means there, though the decoder ignores that dimension.
    """
    found = prior_holes(codes, held_out=held_out, **cfg.analyse.holes, seed=cfg.seed)
    active = np.exp(logvar).mean(axis=0) < ACTIVE_VARIANCE
    in_active = (prior_holes(codes[:, active], held_out=held_out[:, active], **cfg.analyse.holes, seed=cfg.seed)
                 if active.any() else None)
    rng = np.random.default_rng([cfg.seed, 4])
    decodings = {}
    for name, members in (("hole", found["in_hole"]), ("covered", ~found["in_hole"])):
        rows = np.flatnonzero(members)
        chosen = np.sort(rng.choice(rows, size=min(HOLE_EXAMPLES, len(rows)), replace=False))
        with torch.inference_mode():
            z = torch.as_tensor(found["prior"][chosen], dtype=torch.float32, device=device)
            decodings[f"{name}_decodings"] = vae.eval().decode(z).cpu().numpy()
    summary = {key: value for key, value in found.items() if not isinstance(value, np.ndarray)}
    summary["active_dimensions"] = int(active.sum())
    summary["active_variance"] = ACTIVE_VARIANCE
    summary["active"] = None if in_active is None else {
        key: value for key, value in in_active.items() if not isinstance(value, np.ndarray)}
    return summary, decodings


def _write_csv(path, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Rows to CSV with floats at full precision (repr), so equal numbers give equal files."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows([{key: repr(float(value)) if isinstance(value, (float, np.floating)) else value
                       for key, value in row.items()}
                      for row in rows])
    artifacts.write_text(path, buffer.getvalue())

