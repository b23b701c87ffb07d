"""report.md's sections on `aelat analyse`'s artifacts: dynamics, layers, geometry, VAE holes, with computed sentences."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from aelat import artifacts
from aelat.artifacts import Run
from aelat.metrics.confidence import holm, paired_accuracy_difference
from aelat.metrics.geometry import class_ratio_test, paired_ratio_change
from aelat.metrics.profile import DIMENSION_LEVEL
from aelat.metrics.training_change import accuracy_change, share_change
from aelat.plots.analysis import animate_maps, plot_dynamics, plot_geometry, plot_layers, plot_map_strip
from aelat.plots.drawing import Figures
from aelat.plots.figures import plot_reconstructions
from aelat.plots.images import pictured

# (column of dynamics.csv / layers.csv, title); the dynamics figure and table show them in this order.
DYNAMICS_METRICS = [
    ("knn_accuracy", "kNN@{k}"), ("probe_accuracy", "probe"), ("between_class_variance_share", "var share"),
    ("sw_between_classes", "SW₂ classes"), ("twonn_dimension", "ID TwoNN"), ("gmm_nmi", "GMM NMI"),
    ("recon_mse", "recon MSE"),
]
LAYER_METRICS = [
    ("twonn_dimension", "ID TwoNN"), ("knn_accuracy", "kNN@{k}"), ("between_class_variance_share", "var share"),
    ("sw_between_classes", "SW₂ classes"), ("sw_to_next", "SW₂ to next layer"),
]


def analysis_inputs(run: Run) -> dict[str, str]:
    """The analysis artifacts the run records, checked current (checksums); none when `aelat analyse` has not run.

    A stale or changed analysis artifact raises, naming the command.
    """
    entry = run.manifest()["stages"].get("analyse")
    inputs = {}
    for name in entry["outputs"] if entry else ():
        inputs |= run.require("analyse", name)
    return inputs


def analysis_sections(run: Run, inputs: dict[str, str], class_names: list[str], draw: Figures) -> str:
    """The markdown of every analysis in ``inputs`` (from :func:`analysis_inputs`); figures go to ``draw``."""
    if not inputs:
        return ""
    k = run.cfg.analyse.profile.knn_k
    parts = []
    if artifacts.DYNAMICS in inputs:
        parts.append(dynamics_section(run, class_names, k, draw))
    for section in (layers_section, geometry_section):
        parts.append(section(run, class_names, k, draw))
    if artifacts.HOLES in inputs:
        parts.append(holes_section(run, draw))
    return "\n".join(parts)


def read_rows(path: Path) -> list[dict]:
    """A CSV artifact's rows, numbers as floats (empty cells: None)."""
    with open(path, newline="") as fh:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(fh)]


def _number(value: str):
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


# --------------------------------------------------------------------------- dynamics


def dynamics_sentences(rows: list[dict], k: int, evidence: dict, confidence) -> str:
    """Computed findings of dynamics.csv: where the latent started and ended, whether it changed
    detectably (paired over the sample's points), and when most of the change came.

    ``evidence`` is dynamics_points.npz; ``confidence`` the run's evaluate.confidence (level,
    n_resamples); the draws are seeded with 0, so a report is the same each time it is made.
    """
    base = {row["representation"]: row for row in rows if row["epoch"] is None}
    latent = [row for row in rows if row["representation"] == "latent"]
    if not latent:
        return ""
    epochs = [int(row["epoch"]) for row in latent]
    first, last = latent[0], latent[-1]
    named = [("knn_accuracy", f"kNN@{k}"), ("between_class_variance_share", "the between-class variance share"),
             ("gmm_nmi", "GMM NMI")]
    moves = ", ".join(f"{title} from {_fmt(first[key])} to {_fmt(last[key])}" for key, title in named)
    compare = "; ".join(f"{name}: " + ", ".join(_fmt(base[name][key]) for key, _ in named)
                        for name in ("raw", "pca") if name in base)
    start = "the untrained network (epoch 0)" if epochs[0] == 0 else f"epoch {epochs[0]}"
    text = f"From {start} to epoch {epochs[-1]}, {moves} (same metrics, {compare})."
    if len(epochs) < 2:
        return text
    settings = {"level": confidence.level, "n_resamples": confidence.n_resamples, "seed": 0}
    changes = [(f"kNN@{k}", accuracy_change(evidence["epochs"], evidence["knn_correct"], **settings)),
               ("The between-class variance share", share_change(
                   evidence["epochs"], [row["between_class_variance_share"] for row in latent],
                   evidence["share_influence"], **settings))]
    percent = f"{100 * confidence.level:g} %"
    for title, change in changes:
        interval = f"{_signed(change['difference'])} ({percent} CI {_signed(change['ci_low'])} to {_signed(change['ci_high'])})"
        if change["ci_low"] <= 0 <= change["ci_high"]:
            text += f" {title} changed by no detectable amount over training: {interval}."
            continue
        text += f" {title} {'rose' if change['difference'] > 0 else 'fell'} by {interval}"
        if len(epochs) > 2 and change["epoch"] is not None:
            low, high = change["epoch_low"], change["epoch_high"]
            text += (f"; 90 % of that change had come by epoch {change['epoch']} ({percent} CI "
                     f"{f'epoch {low}' if low == high else f'epochs {low}–{high}'}, of {epochs[-1]})")
        text += "."
    return text + (" (Paired over the sample's points: McNemar's test and Newcombe's interval for kNN, the delta "
                   "method for the share; the epochs' intervals from bootstrap draws of the points.)")


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def dynamics_section(run: Run, class_names: list[str], k: int, draw: Figures) -> str:
    rows = read_rows(run.file(artifacts.DYNAMICS))
    latent = [row for row in rows if row["representation"] == "latent"]
    epochs = np.array([int(row["epoch"]) for row in latent])
    titles = {key: title.format(k=k) for key, title in DYNAMICS_METRICS}
    curves = {titles[key]: np.array([row[key] for row in latent], dtype=float) for key, _ in DYNAMICS_METRICS}
    baselines = {titles[key]: {row["representation"]: row[key] for row in rows
                               if row["epoch"] is None and row["representation"] in ("raw", "pca")}
                 for key, _ in DYNAMICS_METRICS}
    draw("report_dynamics.png", plot_dynamics, epochs, curves, baselines,
         f"{run.path.name}: the latent over training (sample)")
    maps = artifacts.read_npz(run.file(artifacts.DYNAMICS_MAPS))
    draw("report_dynamics_maps.png", plot_map_strip, maps["epochs"].tolist(), maps["test"], maps["y_test"],
         class_names, "aligned maps of the latent over training (test points of the sample)")
    draw("report_dynamics_maps.gif", animate_maps, maps["epochs"].tolist(), maps["test"], maps["y_test"], class_names,
         "aligned latent")
    table = _table(
        ["representation", "epoch", *titles.values()],
        [[row["representation"], "" if row["epoch"] is None else str(int(row["epoch"])),
          *(_fmt(row[key], 4 if key == "recon_mse" else 3) for key, _ in DYNAMICS_METRICS)] for row in rows],
    )
    n_train, n_test = len(maps["y_train"]), len(maps["y_test"])
    text = "\n".join([
        "## Training dynamics of Q", "",
        f"The codes of a fixed seeded sample ({n_train} train, {n_test} test points) at each snapshot epoch "
        f"(`train.snapshots`; epoch 0 is the untrained network, so it equals the untrained row). kNN@{k} and "
        "the probe are fitted on the sample's train points and scored on its test points; the other metrics "
        "use all its points; recon MSE is on its test points.", "",
        dynamics_sentences(rows, k, artifacts.read_npz(run.file(artifacts.DYNAMICS_POINTS)),
                           run.cfg.evaluate.confidence), "",
        table, "",
        "![Metrics over training](report_dynamics.png)", "",
        "Maps: each snapshot's codes, centred and scaled to unit spread, rotated onto the next snapshot's "
        "(orthogonal Procrustes) and drawn in the last epoch's first two principal axes, so a point that keeps "
        "its code keeps its place.", "",
        "![Aligned maps over training](report_dynamics_maps.png)", "",
        "The same as an animation, with in-between frames: [report_dynamics_maps.gif](report_dynamics_maps.gif)", "",
    ])
    return text


# --------------------------------------------------------------------------- layers


def _path(rows: list[dict], key: str) -> str:
    return " → ".join(f"{row['name']} {_fmt(row[key], 1 if key == 'twonn_dimension' else 3)}" for row in rows)


def _dimension(row: dict) -> str:
    return f"{_fmt(row['twonn_dimension'], 1)} ({_fmt(row['twonn_dimension_low'], 1)}–{_fmt(row['twonn_dimension_high'], 1)})"


def dimension_shape(rows: list[dict]) -> str:
    """How the TwoNN dimension runs from the input (first row) to the latent (last), called only
    where the intervals say so: a peak in between whose interval lies above both ends' is a hunchback."""
    low = [row["twonn_dimension_low"] for row in rows]
    high = [row["twonn_dimension_high"] for row in rows]
    peak = int(np.argmax([row["twonn_dimension"] for row in rows]))
    if 0 < peak < len(rows) - 1 and low[peak] > max(high[0], high[-1]):
        return (f"it rises to a peak at {rows[peak]['name']} and falls to the latent (a hunchback: the peak's "
                "interval lies above both ends')")
    if high[-1] < low[0]:
        return "it is lower at the latent than at the input (their intervals do not overlap)"
    if low[-1] > high[0]:
        return "it is higher at the latent than at the input (their intervals do not overlap)"
    return "the input's and the latent's intervals overlap: no detectable change from input to latent"


def layers_sentences(rows: list[dict], k: int, evidence: dict, level: float, alpha: float) -> str:
    """Computed findings of layers.csv: the intrinsic-dimension profile, at which layers kNN differs
    detectably from the input's (paired, Holm-corrected over the layers), the largest move.

    ``evidence`` is layers_points.npz (one row per row of ``rows``); ``level`` the confidence level
    of the dimension's intervals in ``rows``; ``alpha`` the family-wise error rate of the layer
    comparisons.
    """
    trained_rows = [index for index, row in enumerate(rows) if row["encoder"] == "trained"]
    trained = [rows[index] for index in trained_rows]
    untrained = [row for row in rows if row["encoder"] == "untrained"]
    dimensions = " → ".join(f"{row['name']} {_dimension(row)}" for row in trained)
    text = (f"TwoNN intrinsic dimension ({100 * level:g} % bootstrap intervals) along the trained encoder: "
            f"{dimensions}; {dimension_shape(trained)} (untrained: {_path(untrained, 'twonn_dimension')}). ")
    text += f"kNN@{k} along the trained encoder: {_path(trained, 'knn_accuracy')} (untrained: {_path(untrained, 'knn_accuracy')}). "
    correct = evidence["knn_correct"]
    tests = [paired_accuracy_difference(correct[index], correct[trained_rows[0]]) for index in trained_rows[1:]]
    if tests:
        adjusted = holm([test["p_value"] for test in tests])
        verdicts = {"higher": [], "lower": [], "not detectably different": []}
        for row, test, p in zip(trained[1:], tests, adjusted):
            verdict = "not detectably different" if p >= alpha else "higher" if test["difference"] > 0 else "lower"
            verdicts[verdict].append(f"{row['name']} ({_signed(test['difference'])})")
        text += (f"Against the input on the same test points (McNemar, Holm-corrected over {len(tests)} layers, "
                 f"α = {alpha:g}), kNN@{k} is " + "; ".join(f"{verdict} at {', '.join(names)}"
                                                           for verdict, names in verdicts.items() if names) + ". ")
    text += (f"Between-class variance share: {_path(trained, 'between_class_variance_share')} (untrained: "
             f"{_path(untrained, 'between_class_variance_share')}). ")
    moves = [(row["sw_to_next"], row["name"], nxt["name"]) for row, nxt in zip(trained, trained[1:])]
    if moves:
        value, a, b = max(moves)
        text += (f"The largest normalised SW₂ from one layer of the trained encoder to the next is between {a} "
                 f"and {b} ({_fmt(value, 2)}; a point estimate on the sample, without an interval).")
    return text


def layers_section(run: Run, class_names: list[str], k: int, draw: Figures) -> str:
    rows = read_rows(run.file(artifacts.LAYERS))
    encoders = list(dict.fromkeys(row["encoder"] for row in rows))
    names = [row["name"] for row in rows if row["encoder"] == encoders[0]]
    panels = {title.format(k=k): {encoder: [row[key] if row[key] is not None else np.nan
                                            for row in rows if row["encoder"] == encoder][: len(names) - (key == "sw_to_next")]
                                  for encoder in encoders}
              for key, title in LAYER_METRICS}
    draw("report_layers.png", plot_layers, names, panels, f"{run.path.name}: the encoder layer by layer (sample)")
    table = _table(
        ["encoder", "layer", "dim", *(title.format(k=k) for _, title in LAYER_METRICS)],
        [[row["encoder"], row["name"], str(int(row["dim"])),
          *(_fmt(row[key], 1 if key == "twonn_dimension" else 3) for key, _ in LAYER_METRICS)] for row in rows],
    )
    text = "\n".join([
        "## Layer by layer", "",
        "Every hidden layer's activations (after each nonlinearity; conv feature maps flattened) on the same "
        "sample, for the trained and the untrained encoder; the input is layer 0 and the latent the last. "
        "SW₂ to next layer: sliced W₂ between a layer's and the next layer's distributions, each centred, "
        "scaled to unit spread, reduced to their common top principal components and rotated onto each other "
        "(Procrustes), in units of the pooled spread (0: the layer only rotates and rescales).", "",
        layers_sentences(rows, k, artifacts.read_npz(run.file(artifacts.LAYERS_POINTS)), DIMENSION_LEVEL,
                         run.cfg.evaluate.findings.alpha), "",
        table, "",
        "![Layer profile](report_layers.png)", "",
    ])
    return text


# --------------------------------------------------------------------------- geometry


def _interval(ratio: float, low: float, high: float) -> str:
    return f"{ratio:.2f} (95 % CI {low:.2f}–{high:.2f})"


def geometry_sentences(rows: list[dict], arrays: dict, cfg_encoders: list[str], class_names: list[str],
                       alpha: float) -> str:
    """Computed findings of geometry.csv: the between/within stretch ratio of each encoder, paired
    comparisons, and whether the classes' ratios differ (family-wise error rate ``alpha``)."""
    pooled = {row["encoder"]: row for row in rows if row["class"] == "all"}
    trained = pooled["trained"]
    text = (f"At {int(trained['n'])} points the trained encoder stretches the direction towards a point's nearest "
            f"other-class neighbour {_interval(trained['stretch_ratio'], trained['stretch_ratio_low'], trained['stretch_ratio_high'])} "
            "times as much as the direction towards its nearest same-class neighbour")
    others = [f"{name} {_interval(pooled[name]['stretch_ratio'], pooled[name]['stretch_ratio_low'], pooled[name]['stretch_ratio_high'])}"
              for name in cfg_encoders if name != "trained" and name in pooled]
    text += f" ({'; '.join(others)}). " if others else ". "
    per_point = {name: {key: arrays[f"{name}.{key}"] for key in ("stretch_same", "stretch_other")} for name in cfg_encoders}
    for other in (name for name in cfg_encoders if name != "trained"):
        ratio, low, high = paired_ratio_change(per_point["trained"], per_point[other])
        verdict = ("no detectable difference" if not np.isfinite(low) or low <= 1 <= high else
                   "higher" if low > 1 else "lower")
        text += (f"Paired at the same points, the trained ratio is {_interval(ratio, low, high)} times the {other} "
                 f"one's: {verdict}. ")
    per_class = [row for row in rows if row["encoder"] == "trained" and row["class"] != "all"
                 and all(isinstance(row[key], float) and np.isfinite(row[key])
                         for key in ("stretch_ratio", "stretch_ratio_low", "stretch_ratio_high"))]
    if len(per_class) > 1:
        lo, hi = min(per_class, key=lambda r: r["stretch_ratio"]), max(per_class, key=lambda r: r["stretch_ratio"])
        pairs = len(per_class) * (len(per_class) - 1) // 2
        test = class_ratio_test(per_point["trained"], arrays["y"], hi["class"], lo["class"])
        p = min(1.0, test["p_value"] * pairs)
        text += (f"Per class the trained ratio ranges from "
                 f"{_interval(lo['stretch_ratio'], lo['stretch_ratio_low'], lo['stretch_ratio_high'])} (class "
                 f"{_class_label(lo['class'], class_names)}, {int(lo['n'])} points) to "
                 f"{_interval(hi['stretch_ratio'], hi['stretch_ratio_low'], hi['stretch_ratio_high'])} (class "
                 f"{_class_label(hi['class'], class_names)}, {int(hi['n'])} points); Welch's t-test on the "
                 f"log-ratios, Bonferroni-corrected over the {pairs} pairs of classes: p = {p:.3g}, "
                 + ("so the encoder pulls some classes apart more than others. " if p < alpha else
                    "no detectable difference between classes. "))
    volumes = ", ".join(f"{name} {round(pooled[name]['log_volume'], 2) + 0.0:.2f}" for name in cfg_encoders if name in pooled)
    return text + f"Mean log-volume change Σ log σᵢ: {volumes} (PCA's orthonormal projection: 0)."


def geometry_section(run: Run, class_names: list[str], k: int, draw: Figures) -> str:
    rows = read_rows(run.file(artifacts.GEOMETRY))
    arrays = artifacts.read_npz(run.file(artifacts.GEOMETRY_ARRAYS))
    encoders = list(dict.fromkeys(row["encoder"] for row in rows))
    ratios = {encoder: {_class_label(row["class"], class_names): (row["stretch_ratio"], row["stretch_ratio_low"],
                                                                  row["stretch_ratio_high"])
                        for row in rows if row["encoder"] == encoder} for encoder in encoders}
    spectra = {encoder: arrays[f"{encoder}.singular_values"] for encoder in encoders}
    draw("report_geometry.png", plot_geometry, spectra, ratios, f"{run.path.name}: the Jacobian of g")
    table = _table(
        ["encoder", "points", "log-volume Σ log σᵢ", "σ₁", "stretch to same class", "stretch to other class",
         "other / same (95 % CI)"],
        [[row["encoder"], str(int(row["n"])), _fmt(round(row["log_volume"], 2) + 0.0, 2),
          _fmt(float(np.median(arrays[f"{row['encoder']}.singular_values"][:, 0])), 3),
          _fmt(row["stretch_same"], 4), _fmt(row["stretch_other"], 4),
          f"{_fmt(row['stretch_ratio'], 2)} ({_fmt(row['stretch_ratio_low'], 2)}–{_fmt(row['stretch_ratio_high'], 2)})"]
         for row in rows if row["class"] == "all"],
    )
    text = "\n".join([
        "## Encoder geometry: the Jacobian of g", "",
        "J = ∂g/∂x at sample points (torch.func); σᵢ its singular values (σ₁: median of the largest); "
        "stretch ‖J u‖ along the unit direction u towards each point's nearest neighbour (input space) of the "
        "same class and of another class, geometric means; other / same > 1: the encoder pulls classes apart "
        "locally. PCA's Jacobian is its projection matrix.", "",
        geometry_sentences(rows, arrays, encoders, class_names, run.cfg.evaluate.findings.alpha), "",
        table, "",
        "![Jacobian spectrum and stretch ratio per class](report_geometry.png)", "",
    ])
    return text


def _class_label(value, class_names: list[str]) -> str:
    if isinstance(value, float) and value.is_integer() and 0 <= int(value) < len(class_names):
        return class_names[int(value)]
    return str(value)


# --------------------------------------------------------------------------- VAE holes


def holes_section(run: Run, draw: Figures) -> str:
    holes = json.loads(run.file(artifacts.HOLES).read_text())
    decodings = artifacts.read_npz(run.file(artifacts.HOLES_ARRAYS))
    shown = min(len(decodings["hole_decodings"]), len(decodings["covered_decodings"]))
    files = []
    if shown and pictured(decodings["hole_decodings"]) and pictured(decodings["covered_decodings"]):
        draw("report_vae_holes.png", plot_reconstructions, {"from holes": decodings["hole_decodings"][:shown],
                                                             "covered": decodings["covered_decodings"][:shown]},
             "decoded prior draws: from holes (top) and from covered regions (bottom)")
        files.append("report_vae_holes.png")
    held = holes["held_out_share"]
    text = (f"{100 * holes['share']:.1f} % of {holes['n_prior']} draws from the prior N(0, I) (95 % CI "
            f"{100 * holes['share_low']:.1f}–{100 * holes['share_high']:.1f} %) lie in holes of Q: farther from every "
            f"one of the {holes['n_codes']} encoded train points than {100 * holes['quantile']:g} % of those points "
            f"are from their nearest neighbour (distance {holes['threshold']:.3f}).")
    if held is not None:
        text += (f" Held-out test codes beyond the same distance: {100 * held:.1f} % "
                 f"(≈ {100 * (1 - holes['quantile']):g} % when they follow Q like the train codes).")
    active, dims = holes["active"], holes["active_dimensions"]
    if dims < holes["dim"]:
        text += (f" {holes['dim'] - dims} of the {holes['dim']} latent dimensions are collapsed (mean posterior "
                 f"variance ≥ {holes['active_variance']:g}: their posteriors stay near N(0, 1), so they carry little about x)")
        text += "." if active is None else (
            f"; in the other {dims}, {100 * active['share']:.1f} % of prior draws (95 % CI "
            f"{100 * active['share_low']:.1f}–{100 * active['share_high']:.1f} %) lie in holes.")
    lines = ["## VAE: where Q misses the prior", "", text, ""]
    lines += [f"![Decodings from holes and covered regions]({file})" for file in files] + [""]
    return "\n".join(lines)
