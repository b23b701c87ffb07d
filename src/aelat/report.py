"""report.md and its figures, rendered from a run's artifacts (metrics.json, maps, latents, log)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts
from aelat.artifacts import Run
from aelat.background import Background, workers
from aelat.errors import StaleArtifactError
from aelat.explorer import write_html
from aelat.findings import Findings, lookup, run_findings
from aelat.plots.figures import plot_heatmaps, plot_reconstructions, plot_training_curve
from aelat.plots.drawing import Figures
from aelat.plots.images import pictured
from aelat.plots.latent import plot_corner, plot_gaussianity, plot_marginals
from aelat.plots.scatter import plot_map_grid
from aelat.report_analysis import analysis_inputs, analysis_sections

REPORT = "report.md"
BASELINES = tuple(artifacts.REPRESENTATIONS)  # raw, pca, untrained, latent
EXAMPLES = ("input", "latent", "pca", "untrained")  # rows of the reconstruction figure, top to bottom

# (column title, path into a representation's metrics, format[, companion path]); the table shows the
# columns present. A companion is the value's spread, shown as "value ± spread", or for format "p"
# the p-value's floor, shown as "≤ floor" when the p-value is at it.
STRUCTURE_COLUMNS = [
    ("dim", "dim", "d"),
    *((f"kNN@{k}", f"structure.knn_accuracy_{k}", ".4f") for k in (1, 5, 10, 15, 20, 50)),
    ("probe", "structure.probe_accuracy", ".4f"),
    *((f"{model} {title}", f"structure.{key}_{metric}", ".3f", f"structure.{key}_{metric}_sd")
      for model, key in (("k-means", "kmeans"), ("GMM", "gmm"))
      for title, metric in (("acc", "accuracy"), ("NMI", "nmi"), ("ARI", "ari"))),
    ("silhouette", "structure.silhouette", ".3f"),
    ("N2D acc", "structure.n2d.accuracy", ".3f"),
    ("N2D NMI", "structure.n2d.nmi", ".3f"),
    ("recon MSE", "recon_mse", ".4f"),
]
NEIGHBOURHOOD_COLUMNS = [
    ("made from", "source", "s"),
    *((f"trust@{k}", f"neighbourhood.trustworthiness_{k}", ".3f") for k in (5, 10, 15, 20)),
    *((f"cont@{k}", f"neighbourhood.continuity_{k}", ".3f") for k in (5, 10, 15, 20)),
    *((f"kNN-kept@{k}", f"neighbourhood.knn_preservation_{k}", ".3f") for k in (5, 10, 15, 20)),
]
DISTRIBUTION_COLUMNS = [
    ("dim", "dim", "d"),
    ("var share", "distribution.between_class_variance_share", ".3f"),
    ("btw/within", "distribution.pairwise_distance.ratio", ".2f"),
    ("MMD²", "distribution.gaussianity.pooled.mmd2", ".3f", "distribution.gaussianity.pooled.mmd2_se"),
    ("p", "distribution.gaussianity.pooled.p_value", "p", "distribution.gaussianity.pooled.p_floor"),
    ("MMD² cls", "distribution.class_mmd2_mean", ".3f"),
    ("ID 2NN", "distribution.intrinsic_dimension.pooled.twonn", ".1f"),
    ("ID MLE (MG)", "distribution.intrinsic_dimension.pooled.mle", ".1f"),
    ("ID MLE cls (MG)", "distribution.class_mle_mean", ".1f"),
    ("SW₂", "distribution.sliced_wasserstein.mean", ".3f", "distribution.sliced_wasserstein.mean_se"),
    ("BIC best k", "shape.gmm_bic.best", "d"),
]

# (column title, metric) of the paired-comparisons table.
COMPARED = [
    *((f"kNN@{k}", f"knn_accuracy_{k}") for k in (1, 5, 10, 15, 20, 50)),
    ("probe", "probe_accuracy"),
    ("GMM NMI", "gmm_nmi"),
    ("silhouette", "silhouette"),
    ("var share", "between_class_variance_share"),
]

HOW_TO_READ = """\
- **kNN@k**: test accuracy of a k-nearest-neighbour vote among the train points (the Parametric
  UMAP protocol). High means each class occupies its own neighbourhoods.
- **probe**: test accuracy of a logistic regression on the standardised train points, all of them
  for every representation (a cap on the train points would favour low-dimensional inputs): linear
  separability.
- **k-means / GMM acc, NMI, ARI**: clusters found without labels, as many as classes, scored against
  the classes (accuracy under the best one-to-one matching). High means the classes *are* the clusters.
  Mean ± standard deviation over `evaluate.clustering.n_seeds` fits (each seed its own subsample and
  initialisation, in float64): one fit can land in a poor local optimum, so compare means and
  read the ± as how much a single fit varies.
- **silhouette**: with the true labels as clusters; 1 = tight, far-apart classes, 0 = overlapping.
- **N2D acc / NMI**: N2D-style clustering (McConville et al. 2020): UMAP to a few dimensions
  (`evaluate.n2d`), then a Gaussian mixture with one component per class; ± from resampling the
  points (one fit).
- **Paired comparisons**: a − b on the same points; kNN and probe by McNemar's mid-p test with
  Newcombe's interval, clustering scores and silhouette by a paired bootstrap over the points
  (adding the spread of several fits when there are several), the variance share by the delta
  method. The Findings call a difference detected only when its interval excludes 0 and its
  Holm-adjusted p-value is below `evaluate.findings.alpha`.
- **trust@k / cont@k / kNN-kept@k** (2-D maps only, against the representation the map was made
  from, on the fitted points): trustworthiness penalises map neighbours that were far apart,
  continuity penalises neighbours the map tore apart, kNN-kept is the share of neighbours kept.
- **var share**: trace of the between-class scatter over the total; the share of the
  spread of Q that separates classes rather than varying inside them.
- **btw/within**: mean distance between points of different classes over mean distance
  within a class; > 1 means classes are compact relative to their separation.
- **MMD² ± s.e., p** (all classes pooled) and **MMD² cls** (mean over the class-conditional
  distributions): how far the distribution is from the Gaussian with its own mean and covariance,
  fitted on points other than those tested (above `evaluate.distribution.gaussianity_max_dim`
  dimensions, in the top principal subspace of that size). MMD² is an effect size: the squared
  distance between the kernel mean embeddings of the data and of that Gaussian, as a fraction of
  the Gaussian's own squared norm, minus what Gaussian data of the same size score; ≈ 0 (within
  about 2 s.e.) for a Gaussian at any size and dimension, and it does not grow with the number of
  points, so runs compare. Two separated clusters (unit Gaussians 6 s.d. apart) score 0.2–0.3 in
  2 to 784 dimensions. p is a parametric-bootstrap p-value of the test "this is Gaussian" over
  several kernel bandwidths; "≤" before it means it is at its floor, 1/(n_bootstrap + 1) (0.005 at
  the default `evaluate.distribution.n_bootstrap`): no bootstrap Gaussian data set looked as far from
  its Gaussian.
- **ID 2NN / ID MLE (MG) / ID MLE cls (MG)**: intrinsic dimension (TwoNN, Facco et al. 2017;
  Levina–Bickel with the MacKay–Ghahramani averaging, i.e. the inverse of the mean inverse
  per-point estimate) of the pooled points, and the MLE averaged over classes; compare with the raw
  input's to see how much of the data's dimension the encoder keeps. Papers often report the
  original Levina–Bickel mean of per-point estimates, which is larger; metrics.json holds it too
  (`mle_levina_bickel`). These use up to `evaluate.distribution.n_id_samples` points at once; the
  Findings compare dimensions on disjoint draws of fewer points (`evaluate.shape.intrinsic_dimension`),
  which gives them an interval. Both estimators depend on the number of points (on curved or noisy
  data they grow with it), so the two values differ: compare values of one kind.
- **SW₂ ± s.e.**: mean sliced Wasserstein-2 distance between class-conditional distributions, in
  units of the pooled spread, so representations of different dimension compare; the ± is the
  Monte-Carlo standard error from the random directions (`evaluate.distribution.n_directions`).
- **BIC best k**: the number of components (1, and ½, 1 and 2 × the classes; only sizes with fewer
  parameters than points) at which a full-covariance Gaussian mixture's BIC is lowest: 1 = one blob,
  the number of classes = one blob per class (when the clustering scores say the blobs are the
  classes). BIC's penalty grows with the dimension squared, so in many dimensions and few points it
  favours few components even for separate classes: read it with the clustering scores.
"""


# The columns the terminal shows of each table (the report shows all).
TERMINAL_COLUMNS = {
    "structure": ("dim", "kNN@1", "kNN@5", "kNN@10", "probe", "k-means acc", "GMM acc", "silhouette", "recon MSE"),
    "distribution": tuple(column[0] for column in DISTRIBUTION_COLUMNS),
}


def terminal_tables(metrics: dict) -> list:
    """The structure and distribution tables (rich Tables), one row per representation."""
    from rich.table import Table

    scores = with_summaries(metrics["representations"])
    tables = []
    for kind, title, columns in (("structure", "class structure (test set)", STRUCTURE_COLUMNS),
                                 ("distribution", "distribution of Q", DISTRIBUTION_COLUMNS)):
        shown = [c for c in table_columns(scores, columns) if c[0] in TERMINAL_COLUMNS[kind]]
        table = Table(title=f"aelat — {title}")
        table.add_column("representation")
        for column in shown:
            table.add_column(column[0], justify="right")
        for name, row in scores.items():
            if kind in row:
                table.add_row(name, *(cell(row, column, intervals=False) for column in shown))  # narrow
        tables.append(table)
    return tables


def write_report(run: Run, background: Background | None = None) -> Path:
    """Render report.md (opening with the Findings), its figures and findings.json next to metrics.json;
    returns the report's path. With ``background``, the figures are drawn in worker processes (``jobs``)
    while the report goes on.

    Refuses (StaleArtifactError) when metrics.json is older than a file it draws (a map made again,
    a map made after it, latents or model made again): the maps are always titled with their own scores.
    """
    started = time.perf_counter()
    inputs = run.require("evaluate", artifacts.METRICS)  # so, through it, the latents and maps it scored
    inputs |= run.require("evaluate", artifacts.PREDICTIONS)  # report.html's votes and clusters
    scored = run.manifest()["stages"]["evaluate"]["inputs"]
    for stage in run.manifest()["stages"]:
        if stage.startswith("embed:"):
            name = f"{artifacts.embedding_stem(*artifacts.embedding_of(stage))}.npz"
            if name not in scored:
                raise StaleArtifactError(f"{run.file(artifacts.METRICS)} does not score {name}, made after it; "
                                         "re-run `aelat evaluate`")
            inputs |= run.require(stage, name)
    inputs |= run.require("encode", artifacts.LATENTS)
    trained = "train" in run.manifest()["stages"]  # not so for embeddings made outside aelat
    if trained:
        inputs |= run.require("train", artifacts.TRAIN_LOG)
    analysed = analysis_inputs(run)
    inputs |= analysed
    metrics = json.loads(run.file(artifacts.METRICS).read_text())
    scores = metrics["representations"]
    stored = artifacts.npz_keys(run.file(artifacts.LATENTS))
    wanted = ["class_names", *(f"examples_{n}" for n in EXAMPLES if f"examples_{n}" in stored)]
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), wanted)
    class_names = [str(name) for name in latents["class_names"]]
    figures = []

    with run.making("report", inputs, started, save_config=False) as out:
        draw = Figures(out, background, workers(run.cfg.jobs))
        for method in sorted({name.split("(")[0] for name, row in scores.items() if row.get("source")}):
            maps = {}
            for source in BASELINES:
                name = f"{method}({source})"
                if name in scores:
                    emb = artifacts.read_npz(run.file(f"{artifacts.embedding_stem(method, source)}.npz"))
                    accuracy = scores[name]["structure"].get("knn_accuracy_10")
                    suffix = f" — kNN@10 {accuracy:.3f}" if accuracy is not None else ""
                    maps[f"{source} ({scores[source]['dim']}-d){suffix}"] = (emb["test"], emb["y_test"])
            figures.append((f"{method} maps of the test set, by representation", f"report_maps_{method}.png"))
            draw(figures[-1][1], plot_map_grid, maps, class_names, f"{method} of each representation (test points)")

        sw = {name: scores[name]["distribution"]["sliced_wasserstein"]["matrix"] for name in BASELINES
              if "distribution" in scores.get(name, {})}
        if sw:
            figures.append(("Sliced Wasserstein-2 between classes (units of the pooled spread)",
                            "report_sliced_wasserstein.png"))
            draw(figures[-1][1], plot_heatmaps, sw, class_names, "sliced W₂ between class-conditional distributions",
                 colour_label="sliced W₂ (units of the pooled spread)")

        q_figures = latent_figures(run, scores, class_names, draw)
        figures += q_figures

        log = np.genfromtxt(run.file(artifacts.TRAIN_LOG), delimiter=",", names=True, ndmin=1) if trained else None
        findings = run_findings(metrics, log, **OmegaConf.to_container(run.cfg.evaluate.findings))
        artifacts.write_json(out(artifacts.FINDINGS), findings.to_json())
        if trained:
            figures.append(("Training curve", "report_training.png"))
            draw(figures[-1][1], plot_training_curve, log, run.path.name)

        rows = {name: latents[f"examples_{name}"] for name in EXAMPLES if f"examples_{name}" in latents}
        if len(rows) == len(EXAMPLES) and pictured(rows["input"]):
            figures.append(("Test images (top) and their reconstructions", "report_reconstructions.png"))
            draw(figures[-1][1], plot_reconstructions, rows, "reconstructions of test images")

        analysis = analysis_sections(run, analysed, class_names, draw)
        write_html(run, scores, q_figures, out, before_page=draw.finish)  # the page holds q_figures' files
        text = render_markdown(run.path.name, metrics, figures, findings) + ("\n" + analysis if analysis else "")
        artifacts.write_text(out(REPORT), text)
    return run.file(REPORT)


def latent_figures(run: Run, scores: dict, class_names: list[str], draw: Figures) -> list[tuple[str, str]]:
    """Figures of Q itself: marginals and corner plot of the latent's widest dimensions, and the
    per-class Gaussianity of every representation next to the pooled one; each drawn by ``draw``."""
    key = artifacts.REPRESENTATIONS["latent"]
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), [f"{key}_train", f"{key}_test", "y_train", "y_test"])
    Z = np.concatenate([latents[f"{key}_train"], latents[f"{key}_test"]])
    y = np.concatenate([latents["y_train"], latents["y_test"]])
    figures = [(f"Q: marginals of the latent's widest dimensions, by class ({len(Z):,} points)", "report_latent_marginals.png")]
    draw(figures[-1][1], plot_marginals, Z, y, class_names, f"latent ({Z.shape[1]}-d): dimensions of largest variance")
    if Z.shape[1] >= 2:
        figures.append(("Q: pairs of the latent's widest dimensions (corner plot)", "report_latent_corner.png"))
        draw(figures[-1][1], plot_corner, Z, y, class_names, f"latent ({Z.shape[1]}-d): widest dimensions, pairwise",
             seed=run.cfg.seed)
    gaussianity = {name: scores[name]["distribution"]["gaussianity"] for name in BASELINES
                   if "distribution" in scores.get(name, {})}
    if gaussianity:
        figures.append(("Gaussianity of each class and of all classes pooled", "report_gaussianity.png"))
        draw(figures[-1][1], plot_gaussianity, gaussianity, class_names,
             "MMD² of each distribution to its moment-matched Gaussian")
    return figures


def render_markdown(title: str, metrics: dict, figures: list[tuple[str, str]], findings: Findings) -> str:
    cfg = metrics["config"]
    scores = with_summaries(metrics["representations"])
    dataset = Path(cfg["dataset"].get("path") or cfg["dataset"]["name"]).name
    if cfg["model"]["name"] == "external":
        made = f"embeddings **{Path(cfg['model']['path']).name}** (made outside aelat)"
        data = f", raw input **{dataset}**" if "raw" in scores else ""
        header = f"{made}{data}, latent_dim **{cfg['latent_dim']}**, seed {cfg['seed']}"
    else:
        header = (f"dataset **{dataset}**, model **{cfg['model']['name']}**, latent_dim **{cfg['latent_dim']}**, "
                  f"seed {cfg['seed']}, {cfg['train']['epochs']} epochs")
    lines = [
        f"# aelat report — {title}",
        "",
        f"{header}; full config in `config.yaml`, versions in `metrics.json`.",
        "",
        findings.markdown(),
        "## Class structure",
        "",
        "Test accuracies with ± the larger side of their 95% Wilson interval (bounds in metrics.json).",
        "",
        markdown_table(scores, STRUCTURE_COLUMNS),
        "",
        "## Paired comparisons",
        "",
        "Each pair on the same points: difference a − b with its 95% interval (tests and p-values in metrics.json).",
        "",
        comparisons_table(metrics.get("comparisons", {})),
        "",
        "## Neighbourhoods kept by the 2-D maps",
        "",
        markdown_table({n: r for n, r in scores.items() if "neighbourhood" in r}, NEIGHBOURHOOD_COLUMNS),
        "",
        "## Distribution of Q = g#P",
        "",
        markdown_table({n: r for n, r in scores.items() if "distribution" in r}, DISTRIBUTION_COLUMNS),
        "",
        "## How to read these numbers",
        "",
        HOW_TO_READ,
    ]
    for caption, file in figures:
        lines += [f"## {caption}", "", f"![{caption}]({file})", ""]
    return "\n".join(lines)


def with_summaries(scores: dict) -> dict:
    """Add the per-class averages the distribution table shows (mean MMD², mean MLE)."""
    out = {}
    for name, row in scores.items():
        row = json.loads(json.dumps(row))
        dist = row.get("distribution")
        if dist:
            per_class = dist["gaussianity"]["per_class"].values()
            dist["class_mmd2_mean"] = float(np.mean([c["mmd2"] for c in per_class]))
            dist["class_mle_mean"] = float(np.mean([c["mle"] for c in dist["intrinsic_dimension"]["per_class"].values()]))
        out[name] = row
    return out


def table_columns(scores: dict, columns: list) -> list:
    """The columns with a value for at least one representation."""
    return [c for c in columns if any(lookup(row, c[1]) is not None for row in scores.values())]


def format_value(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def cell(row: dict, column: tuple, intervals: bool = True) -> str:
    """One table cell: the value, with its spread (``± s``), for a test accuracy (when ``intervals``) ± the
    larger side of its interval ``<path>_ci`` (so it never understates it), or, for a p-value at its
    floor, ``≤ floor``."""
    _, path, fmt, *companion = column
    value = lookup(row, path)
    other = lookup(row, companion[0]) if companion else None
    if fmt == "p":
        if value is not None and other is not None and value <= other * (1 + 1e-9):
            return f"≤ {other:.3g}"
        return format_value(value, ".3f")
    interval = lookup(row, f"{path}_ci") if intervals else None
    if value is not None and other is None and interval:
        other = max(value - interval[0], interval[1] - value)
    if value is not None and other is not None:
        return f"{value:{fmt}} ± {other:{fmt}}"
    return format_value(value, fmt)


def markdown_table(scores: dict, columns: list) -> str:
    columns = table_columns(scores, columns)
    lines = [
        "| representation | " + " | ".join(column[0] for column in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, row in scores.items():
        lines.append(f"| {name} | " + " | ".join(cell(row, column) for column in columns) + " |")
    return "\n".join(lines)


def comparisons_table(comparisons: dict) -> str:
    """One row per compared pair, one column per metric in :data:`COMPARED`: ``+0.008 [0.005, 0.011]``."""
    present = [(title, metric) for title, metric in COMPARED
               if any(metric in entry["metrics"] for entry in comparisons.values())]
    lines = ["| a − b | " + " | ".join(title for title, _ in present) + " |", "|---|" + "---:|" * len(present)]
    for name, entry in comparisons.items():
        cells = []
        for _, metric in present:
            c = entry["metrics"].get(metric)
            cells.append("–" if c is None else f"{c['difference']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]")
        lines.append(f"| {name.replace(' vs ', ' − ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
