"""evaluate and report on a real digits run: the numbers in metrics.json against independent computations."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from aelat import artifacts
from aelat.cli import app
from aelat.metrics.distribution import distribution_metrics
from aelat.metrics.neighbourhood import neighbourhood_scores
from aelat.metrics.structure import clustering_scores

FAST = ["train.epochs=3", "model.hidden=[64]", "latent_dim=4"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "outputs"
    result = CliRunner().invoke(app, ["run", *FAST, f"output_dir={out}", "--method", "pca", "--method", "tsne",
                                      "embed.max_points=600"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return (out / "latest").resolve()


@pytest.fixture(scope="module")
def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_every_representation_is_scored(run_dir, metrics):
    scores = metrics["representations"]
    maps = {f"{m}({s})" for m in ("tsne", "pca") for s in ("raw", "pca", "untrained", "latent")} - {"pca(pca)"}
    assert set(scores) == {"raw", "pca", "untrained", "latent"} | maps  # pca(pca) would repeat pca(raw)
    assert not (run_dir / "embedding_pca_pca.npz").exists()
    for name, row in scores.items():
        assert {"knn_accuracy_1", "knn_accuracy_5", "knn_accuracy_10", "probe_accuracy", "kmeans_accuracy",
                "kmeans_nmi", "kmeans_ari", "gmm_accuracy", "gmm_nmi", "gmm_ari", "silhouette"} <= set(row["structure"])
        assert ("neighbourhood" in row) == (name in maps)
        assert "distribution" in row  # every representation here has >= 2 dimensions
    assert metrics["config"]["latent_dim"] == 4 and "torch" in metrics["versions"]


@pytest.mark.parametrize("name", ["raw", "latent", "tsne(latent)", "pca(untrained)"])
def test_knn_accuracy_matches_scikit_learn(run_dir, metrics, name):
    rep = _representation(run_dir, name)
    for k in (1, 5, 10):
        expected = KNeighborsClassifier(n_neighbors=k).fit(rep["train"], rep["y_train"]).score(rep["test"], rep["y_test"])
        assert metrics["representations"][name]["structure"][f"knn_accuracy_{k}"] == pytest.approx(expected)


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_map_trustworthiness_matches_scikit_learn(run_dir, metrics, method):
    """600 fitted points < the 2000-point query sample, so aelat's value is the exact one."""
    latents = artifacts.read_npz(run_dir / "latents.npz")
    emb = artifacts.read_npz(run_dir / f"embedding_{method}.npz")
    made_from = latents["z_train"][emb["train_index"]]
    row = metrics["representations"][f"{method}(latent)"]["neighbourhood"]
    for k in (5, 10):
        assert row[f"trustworthiness_{k}"] == pytest.approx(trustworthiness(made_from, emb["train"], n_neighbors=k))
        assert row[f"continuity_{k}"] == pytest.approx(trustworthiness(emb["train"], made_from, n_neighbors=k))


@pytest.mark.parametrize("source", ["raw", "latent"])
def test_maps_sharing_a_source_score_as_the_standalone_function(run_dir, metrics, source):
    """evaluate scores tsne(source) and pca(source) in one pass over the source: the values are unchanged."""
    latents = artifacts.read_npz(run_dir / "latents.npz")
    key = artifacts.REPRESENTATIONS[source]
    for method in ("tsne", "pca"):
        emb = artifacts.read_npz(run_dir / f"{artifacts.embedding_stem(method, source)}.npz")
        alone = neighbourhood_scores(latents[f"{key}_train"][emb["train_index"]], emb["train"], ks=(5, 10),
                                     sample_size=metrics["config"]["evaluate"]["neighbourhood"]["sample_size"], seed=0)
        assert metrics["representations"][f"{method}({source})"]["neighbourhood"] == alone


def test_between_class_variance_share_by_brute_force(run_dir, metrics):
    latents = artifacts.read_npz(run_dir / "latents.npz")
    z = np.concatenate([latents["z_train"], latents["z_test"]]).astype(np.float64)
    y = np.concatenate([latents["y_train"], latents["y_test"]])
    centred = z - z.mean(0)
    between = sum((y == c).sum() * np.sum((z[y == c].mean(0) - z.mean(0)) ** 2) for c in np.unique(y))
    expected = between / np.sum(centred**2)
    got = metrics["representations"]["latent"]["distribution"]["between_class_variance_share"]
    assert got == pytest.approx(expected, rel=1e-6)


def test_class_means_and_covariances_by_brute_force(run_dir):
    latents = artifacts.read_npz(run_dir / "latents.npz")
    moments = artifacts.read_npz(run_dir / "moments.npz")
    z = np.concatenate([latents["z_train"], latents["z_test"]]).astype(np.float64)
    y = np.concatenate([latents["y_train"], latents["y_test"]])
    for c in np.unique(y):
        np.testing.assert_allclose(moments["latent.means"][c], z[y == c].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(moments["latent.covariances"][c], np.cov(z[y == c].T, bias=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(moments["latent.covariance"], np.cov(z.T, bias=True), rtol=1e-4, atol=1e-6)
    assert moments["raw.means"].shape == (10, 64) and moments["tsne(latent).covariances"].shape == (10, 2, 2)


def test_distribution_block_is_what_the_metric_function_gives(run_dir, metrics):
    """metrics.json carries distribution_metrics of the stacked train+test codes under the run's settings."""
    latents = artifacts.read_npz(run_dir / "latents.npz")
    d = metrics["config"]["evaluate"]["distribution"]
    expected = distribution_metrics(
        np.concatenate([latents["pca_train"], latents["pca_test"]]),
        np.concatenate([latents["y_train"], latents["y_test"]]),
        seed=0, **d,
    )
    assert json.loads(json.dumps(expected)) == metrics["representations"]["pca"]["distribution"]


def test_probe_fits_every_train_point_and_clustering_averages_seeds(run_dir, metrics):
    """No cap on the probe's train points (a cap favours low-dimensional inputs); clustering over seeds."""
    ev = metrics["config"]["evaluate"]
    assert ev["probe"]["max_train"] is None and ev["clustering"]["n_seeds"] >= 5
    for name in ("raw", "latent"):
        rep = _representation(run_dir, name)
        structure = metrics["representations"][name]["structure"]
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
        expected = probe.fit(rep["train"], rep["y_train"]).score(rep["test"], rep["y_test"])
        assert structure["probe_accuracy"] == pytest.approx(expected, abs=1.5 / len(rep["y_test"]))
        clusters = clustering_scores(np.concatenate([rep["train"], rep["test"]]),
                                     np.concatenate([rep["y_train"], rep["y_test"]]), seed=0, **ev["clustering"])
        assert {key: structure[key] for key in clusters} == clusters


def test_report_is_written_and_re_rendered(run_dir):
    report = run_dir / "report.md"
    text = report.read_text()
    for heading in ("## Class structure", "## Neighbourhoods kept by the 2-D maps", "## Distribution of Q = g#P",
                    "## How to read these numbers", "report_maps_tsne.png", "report_sliced_wasserstein.png",
                    "report_training.png", "report_reconstructions.png", "report_latent_marginals.png",
                    "report_latent_corner.png", "report_gaussianity.png"):
        assert heading in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert (run_dir / line.split("(")[-1].rstrip(")")).stat().st_size > 5000
    report.unlink()
    result = CliRunner().invoke(app, ["report", "--run", str(run_dir)], catch_exceptions=False)
    assert result.exit_code == 0 and report.read_text() == text


@pytest.mark.parametrize("name", ["raw", "latent", "tsne(latent)"])
def test_predictions_and_accuracy_intervals_match_scikit_learn_and_statsmodels(run_dir, metrics, name):
    """predictions.npz holds what KNeighborsClassifier predicts; each accuracy has its Wilson interval."""
    rep = _representation(run_dir, name)
    predictions = artifacts.read_npz(run_dir / "predictions.npz")
    structure = metrics["representations"][name]["structure"]
    for k in (1, 5, 10):
        expected = KNeighborsClassifier(n_neighbors=k).fit(rep["train"], rep["y_train"]).predict(rep["test"])
        np.testing.assert_array_equal(predictions[f"{name}.knn_accuracy_{k}"], expected)
        right = int(np.sum(expected == rep["y_test"]))
        interval = proportion_confint(right, len(expected), alpha=0.05, method="wilson")
        assert structure[f"knn_accuracy_{k}_ci"] == pytest.approx(list(interval))
    n_seeds = metrics["config"]["evaluate"]["clustering"]["n_seeds"]
    assert predictions[f"{name}.gmm"].shape == (n_seeds, len(rep["y_train"]) + len(rep["y_test"]))


def test_paired_knn_comparison_is_mcnemar_on_the_stored_predictions(run_dir, metrics):
    predictions = artifacts.read_npz(run_dir / "predictions.npz")
    y_test = artifacts.read_npz(run_dir / "latents.npz")["y_test"]
    for a, b in (("latent", "pca"), ("latent", "raw"), ("tsne(latent)", "latent")):
        right_a = predictions[f"{a}.knn_accuracy_10"] == y_test
        right_b = predictions[f"{b}.knn_accuracy_10"] == y_test
        entry = metrics["comparisons"][f"{a} vs {b}"]["metrics"]["knn_accuracy_10"]
        table = [[np.sum(right_a & right_b), np.sum(right_a & ~right_b)], [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)]]
        assert entry["p_exact"] == pytest.approx(statsmodels_mcnemar(table, exact=True).pvalue)
        assert entry["difference"] == pytest.approx(right_a.mean() - right_b.mean())
        assert entry["ci_low"] < entry["difference"] < entry["ci_high"] or entry["a_only"] + entry["b_only"] == 0


def test_n2d_clustering_is_umap_then_a_gaussian_mixture(run_dir, metrics):
    """The N2D score equals umap-learn then scikit-learn's mixture run directly with the same seed."""
    import umap
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.mixture import GaussianMixture

    latents = artifacts.read_npz(run_dir / "latents.npz")
    z = np.concatenate([latents["z_train"], latents["z_test"]]).astype(np.float32)
    y = np.concatenate([latents["y_train"], latents["y_test"]])
    mapped = umap.UMAP(n_components=10, n_neighbors=10, min_dist=0.0, random_state=0, n_jobs=1).fit_transform(z)
    clusters = GaussianMixture(10, covariance_type="full", random_state=0).fit(mapped.astype(np.float64)).predict(
        mapped.astype(np.float64))
    n2d = metrics["representations"]["latent"]["structure"]["n2d"]
    assert n2d["nmi"] == pytest.approx(normalized_mutual_info_score(y, clusters))
    assert n2d["accuracy_ci"][0] < n2d["accuracy"] < n2d["accuracy_ci"][1]
    assert "n2d" not in metrics["representations"]["pca"]["structure"]  # evaluate.n2d.of = [latent]
    # its baseline: the mixture fitted to the latent itself, compared on the same points
    predictions = artifacts.read_npz(run_dir / "predictions.npz")
    gmm = predictions["latent.gmm"]
    versus = n2d["versus_gmm"]["nmi"]
    mixture = np.mean([normalized_mutual_info_score(y, fit) for fit in gmm])
    assert versus["a"] == pytest.approx(n2d["nmi"]) and versus["b"] == pytest.approx(mixture)
    assert versus["b"] == pytest.approx(metrics["representations"]["latent"]["structure"]["gmm_nmi"])
    assert versus["fits"] == [1, len(gmm)] and versus["ci_low"] < versus["difference"] < versus["ci_high"]
    # the interval's points part against a plain bootstrap of the two clusterings on drawn points
    rng = np.random.default_rng(1)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(300)]
    plain = [normalized_mutual_info_score(y[rows], clusters[rows]) - normalized_mutual_info_score(y[rows], gmm[0][rows])
             for rows in draws]
    points_sd = np.sqrt(max(versus["se"] ** 2 - np.var([normalized_mutual_info_score(y, fit) for fit in gmm], ddof=1)
                            / len(gmm), 0))
    assert points_sd == pytest.approx(np.std(plain, ddof=1), rel=0.3)


def test_report_opens_with_findings_and_writes_findings_json(run_dir):
    text = (run_dir / "report.md").read_text()
    assert text.split("\n## ")[1].startswith("Findings") and "## Paired comparisons" in text
    findings = json.loads((run_dir / "findings.json").read_text())
    assert findings["claims"] and all(claim["statement"] for claim in findings["claims"])
    manifest = json.loads((run_dir / "run.json").read_text())
    assert "findings.json" in manifest["stages"]["report"]["outputs"]
    assert "predictions.npz" in manifest["stages"]["evaluate"]["outputs"]


def test_an_unknown_n2d_representation_is_one_error_line_and_writes_nothing(run_dir):
    before = (run_dir / "metrics.json").read_bytes()
    result = CliRunner().invoke(app, ["evaluate", "--run", str(run_dir), "evaluate.n2d.of=[latnet]"])
    assert result.exit_code == 1 and "evaluate.n2d.of names 'latnet'; choose among raw, pca" in result.stderr
    assert "Traceback" not in result.stderr and (run_dir / "metrics.json").read_bytes() == before


def test_evaluate_refuses_latents_of_another_training_config(run_dir):
    result = CliRunner().invoke(app, ["evaluate", "--run", str(run_dir), "train.epochs=4"])
    assert result.exit_code == 1 and "latents.npz was made under another config" in result.stderr


def test_report_refuses_metrics_of_another_evaluate_config(tmp_path, run_dir):
    """A stage that saves a changed evaluate config makes metrics.json stale for `aelat report`."""
    import shutil

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    runner = CliRunner()
    assert runner.invoke(app, ["embed", "--method", "pca", "--run", str(copy), "evaluate.knn.ks=[3]"]).exit_code == 0
    result = runner.invoke(app, ["report", "--run", str(copy)])
    assert result.exit_code == 1
    assert "metrics.json was made under another config; re-run `aelat evaluate`" in result.stderr


def _representation(run_dir, name):
    latents = artifacts.read_npz(run_dir / "latents.npz")
    if "(" not in name:
        key = artifacts.REPRESENTATIONS[name]
        return {"train": latents[f"{key}_train"], "test": latents[f"{key}_test"],
                "y_train": latents["y_train"], "y_test": latents["y_test"]}
    method, source = name.rstrip(")").split("(")
    return artifacts.read_npz(run_dir / f"{artifacts.embedding_stem(method, source)}.npz")
