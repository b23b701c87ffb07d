"""`aelat summarize`: every metrics.json of a sweep in summary.csv, summary.md and plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import SWEEP_FAST
from scipy import stats

from aelat.summarize import KEY_METRICS

REPRESENTATIONS = ["raw", "pca", "untrained", "latent", "pca(latent)"]


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    """A sweep of latent sizes and seeds through Hydra's joblib launcher, two configurations at once:
    (its output_dir, the sweep's stdout)."""
    from typer.testing import CliRunner

    from aelat.cli import app

    out = tmp_path_factory.mktemp("summarize") / "outputs"
    args = ["run", "-m", "--method", "pca", "--of", "latent", *SWEEP_FAST, "latent_dim=2,4", "seed=0,1",
            "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"output_dir={out}"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    return out, result.stdout


@pytest.fixture
def sweep_out(joblib_sweep):
    return joblib_sweep[0]


def test_joblib_launcher_runs_every_configuration(joblib_sweep):
    out, stdout = joblib_sweep
    assert "4 done" in stdout
    assert len([p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]) == 4


def test_summary_csv_has_one_row_per_run_and_representation(aelat, sweep_out):
    code, stdout, stderr = aelat("summarize", str(sweep_out), overrides=False)
    assert code == 0, stderr
    with open(sweep_out / "summary" / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * len(REPRESENTATIONS)
    header = list(rows[0])
    assert header[:9] == ["run", "family", "dataset", "model", "latent_dim", "seed", "train.epochs", "representation",
                          "dim"]
    assert len({r["family"] for r in rows}) == 1 and rows[0]["family"].startswith("digits-mlp-e2-")
    for column in ("structure.knn_accuracy_10", "distribution.between_class_variance_share",
                   "distribution.gaussianity.pooled.mmd2", "distribution.intrinsic_dimension.pooled.twonn",
                   "neighbourhood.trustworthiness_10"):
        assert column in header, column
    assert not any("per_class" in c or "matrix" in c or "settings" in c for c in header)
    assert {r["representation"] for r in rows} == set(REPRESENTATIONS)
    assert {(r["latent_dim"], r["seed"]) for r in rows} == {("2", "0"), ("2", "1"), ("4", "0"), ("4", "1")}
    latent = next(r for r in rows if r["representation"] == "latent" and r["latent_dim"] == "4" and r["seed"] == "1")
    metrics = json.loads((sweep_out / latent["run"] / "metrics.json").read_text())["representations"]["latent"]
    assert float(latent["structure.knn_accuracy_10"]) == metrics["structure"]["knn_accuracy_10"]
    assert latent["dim"] == "4" and latent["train.epochs"] == "2" and latent["dataset"] == "digits"


def _values(runs: list[dict], d: int, rep: str, path: str) -> np.ndarray:
    values = []
    for m in runs:
        if m["config"]["latent_dim"] == d:
            node = m["representations"][rep]
            for key in path.split("."):
                node = node[key]
            values.append(node)
    return np.array(values, dtype=float)


def test_summary_markdown_gives_mean_and_t_interval_across_seeds(aelat, sweep_out):
    assert aelat("summarize", str(sweep_out), overrides=False)[0] == 0
    text = (sweep_out / "summary" / "summary.md").read_text()
    table = [line for line in text.splitlines() if line.startswith(("| 2 |", "| 4 |"))]
    assert len(table) == 2 * len(REPRESENTATIONS)
    # independent computation straight from the metrics.json files, with SciPy's t interval
    runs = [json.loads(p.read_text()) for p in sweep_out.glob("digits-*/metrics.json")]
    for d in (2, 4):
        for rep in ("pca", "latent"):
            line = next(row for row in table if row.startswith(f"| {d} | {rep} |"))
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[2] == "2"  # seeds
            for (title, path, _, fmt), cell in zip(KEY_METRICS, cells[3:]):
                values = _values(runs, d, rep, path)
                half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
                expected = f"{format(values.mean(), fmt)} ± {format(half, fmt)}"
                assert cell == expected, (title, d, rep, cell, expected)


def test_summary_seeds_csv_has_every_metric_with_its_t_interval(aelat, sweep_out):
    assert aelat("summarize", str(sweep_out), overrides=False)[0] == 0
    with open(sweep_out / "summary" / "summary_seeds.csv") as fh:
        rows = list(csv.DictReader(fh))
    runs = [json.loads(p.read_text()) for p in sweep_out.glob("digits-*/metrics.json")]
    metrics = {r["metric"] for r in rows}
    assert {"structure.knn_accuracy_1", "structure.silhouette", "distribution.pairwise_distance.ratio",
            "shape.gmm_bic.best"} <= metrics
    for metric in ("structure.knn_accuracy_1", "distribution.pairwise_distance.ratio"):
        row = next(r for r in rows if r["metric"] == metric and r["latent_dim"] == "4" and r["representation"] == "latent")
        values = _values(runs, 4, "latent", metric)
        ci = stats.ttest_1samp(values, 0).confidence_interval(0.95)
        assert int(row["seeds"]) == 2 and float(row["mean"]) == pytest.approx(values.mean())
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((ci.low, ci.high))


def test_sweep_findings_compare_latent_and_pca_across_seeds(aelat, sweep_out):
    assert aelat("summarize", str(sweep_out), overrides=False)[0] == 0
    findings = json.loads((sweep_out / "summary" / "findings.json").read_text())
    text = (sweep_out / "summary" / "summary.md").read_text()
    assert text.split("\n## ")[1].startswith("Findings") and "The latent against PCA of the same size" in text
    runs = [json.loads(p.read_text()) for p in sweep_out.glob("digits-*/metrics.json")]
    claim = next(c for c in findings["claims"] if c["id"] == "d=4.latent_vs_pca.knn_accuracy_10")
    differences = _values(runs, 4, "latent", "structure.knn_accuracy_10") - _values(runs, 4, "pca", "structure.knn_accuracy_10")
    test = stats.ttest_1samp(differences, 0)
    ci = test.confidence_interval(0.95)
    assert claim["difference"] == pytest.approx(differences.mean())
    assert (claim["ci_low"], claim["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert claim["p_value"] == pytest.approx(test.pvalue) and claim["p_holm"] >= claim["p_value"]
    assert claim["test"] == "paired t-test across 2 seeds"
    assert claim["verdict"] in ("a_higher", "b_higher", "no_detectable_difference")


def test_summary_plots_are_written_and_not_blank(aelat, sweep_out, tmp_path):
    from PIL import Image

    target = tmp_path / "summary"
    code, stdout, stderr = aelat("summarize", str(sweep_out), "--out", str(target), overrides=False)
    assert code == 0, stderr
    pngs = sorted(target.glob("summary*.png"))
    assert {p.stem for p in pngs} == {"summary"} | {f"summary_{stem}" for _, _, stem, _ in KEY_METRICS}
    for png in pngs:
        assert png.stat().st_size > 10_000, png
        with Image.open(png) as image:
            pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 10, png  # lines and bands, not an empty canvas
    for name in ("summary.csv", "summary.md", "summary_seeds.csv", "findings.json"):
        assert (target / name).is_file(), name
    assert not list(target.glob(".*"))  # atomic writes leave no temporary files


def test_summarize_without_metrics_is_one_error_line(aelat, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = aelat("summarize", str(empty), overrides=False)
    assert code == 1
    assert f"no metrics.json under {empty}; run `aelat run` first" in stderr and "Traceback" not in stderr


def test_one_seed_sweep_findings_use_each_runs_own_tests_and_warn(aelat, sweep_out, tmp_path):
    import shutil

    one_seed = tmp_path / "one-seed"
    for run in sweep_out.glob("digits-*-s0-*"):
        shutil.copytree(run, one_seed / run.name)
    assert aelat("summarize", str(one_seed), overrides=False)[0] == 0
    findings = json.loads((one_seed / "summary" / "findings.json").read_text())
    run = json.loads(next(one_seed.glob("digits-mlp-d4-s0-*/metrics.json")).read_text())
    claim = next(c for c in findings["claims"] if c["id"] == "d=4.latent_vs_pca.knn_accuracy_10")
    within = run["comparisons"]["latent vs pca"]["metrics"]["knn_accuracy_10"]
    assert (claim["difference"], claim["ci_low"], claim["p_value"]) == (within["difference"], within["ci_low"], within["p_value"])
    assert claim["test"].endswith("(one seed)")
    assert any(c["verdict"] == "warning" and "one seed only" in c["statement"] for c in findings["claims"])
    assert "Add seeds" in (one_seed / "summary" / "summary.md").read_text()


@pytest.mark.parametrize("content", ["[]", "{}", '{"config": 1, "representations": {}}', "not json", '{"a": [1, 2]}'])
def test_summarize_skips_a_foreign_metrics_json_with_a_warning(aelat, sweep_out, tmp_path, content, caplog):
    foreign = tmp_path / "foreign"
    (foreign / "other-tool").mkdir(parents=True)
    (foreign / "other-tool" / "metrics.json").write_text(content)
    code, _, stderr = aelat("summarize", str(foreign), overrides=False)
    assert code == 1 and "Traceback" not in stderr
    assert "no aelat metrics.json under" in stderr and "1 other file(s) of that name skipped" in stderr
    assert not (foreign / "summary.csv").exists()

    code, _, stderr = aelat("summarize", str(sweep_out), str(foreign), "--out", str(tmp_path / "both"), overrides=False)
    assert code == 0, stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("other-tool/metrics.json: not an aelat metrics.json" in w for w in warnings), warnings
    with open(tmp_path / "both" / "summary.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 4 * len(REPRESENTATIONS)


def test_summarize_out_that_is_a_file_is_one_error_line(aelat, sweep_out, tmp_path):
    target = tmp_path / "summary.txt"
    target.write_text("mine")
    code, _, stderr = aelat("summarize", str(sweep_out), "--out", str(target), overrides=False)
    assert code == 1 and "Traceback" not in stderr
    assert f"--out {target} is a file; give a folder" in stderr
    assert target.read_text() == "mine"
    code, _, stderr = aelat("summarize", str(sweep_out), "--out", "/proc/aelat-summary", overrides=False)
    assert code == 1 and "cannot write /proc/aelat-summary" in stderr
    assert "choose a writable --out DIR" in stderr and "output_dir" not in stderr  # the option summarize has


def test_summarize_without_arguments_keeps_families_apart_in_one_folder(sweep_out, tmp_path, monkeypatch):
    """A single run made under other settings beside a sweep: its own family, never averaged into
    the sweep's rows or drawn in its plots; every file lands in outputs/summary/."""
    import shutil

    from typer.testing import CliRunner

    from aelat.cli import app

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    shutil.copytree(sweep_out, out, symlinks=True, ignore=shutil.ignore_patterns("summary"))
    runner = CliRunner()
    single = ["run", "--method", "pca", "--of", "latent", *SWEEP_FAST, "train.epochs=3", "latent_dim=4", f"output_dir={out}"]
    assert runner.invoke(app, single, catch_exceptions=False).exit_code == 0
    loose_before = sorted(p.name for p in out.iterdir())

    result = runner.invoke(app, ["summarize"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([*loose_before, "summary"])  # nothing loose
    folder = out / "summary"
    with open(folder / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    families = sorted({r["family"] for r in rows})
    assert len(families) == 2 and {f.split("-")[2] for f in families} == {"e2", "e3"}, families
    sweep = next(f for f in families if "-e2-" in f)
    # the sweep's latent row at d=4 averages its own two seeds only, not the 3-epoch run
    runs = [json.loads(p.read_text()) for p in out.glob("digits-*/metrics.json")]
    values = [m["representations"]["latent"]["structure"]["knn_accuracy_10"] for m in runs
              if m["config"]["latent_dim"] == 4 and m["config"]["train"]["epochs"] == 2]
    assert len(values) == 2
    text = (folder / "summary.md").read_text()
    section = text.split(f"## {sweep}")[1].split("## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| 4 | latent |"))
    assert row.split("|")[3].strip() == "2"
    assert row.split("|")[4].strip().startswith(format(np.mean(values), ".3f"))
    assert "train.epochs = 2" in section
    # figures: the README's names with the family in them; the one-size family gets none
    names = {p.name for p in folder.glob("*.png")}
    assert names == {f"summary_{sweep}.png"} | {f"summary_{sweep}_{stem}.png" for _, _, stem, _ in KEY_METRICS}
    # a later summary of the sweep alone removes the figures it no longer makes, and only those
    (folder / "notes.txt").write_text("mine")
    shutil.rmtree(next(p for p in out.glob("digits-mlp-d4-*") if "epochs: 3" in (p / "config.yaml").read_text()))
    assert runner.invoke(app, ["summarize"], catch_exceptions=False).exit_code == 0
    names = {p.name for p in folder.glob("*.png")}
    assert names == {"summary.png"} | {f"summary_{stem}.png" for _, _, stem, _ in KEY_METRICS}
    assert (folder / "notes.txt").read_text() == "mine"


def test_summarize_touches_no_file_it_did_not_write_and_skips_a_changed_metrics_json(aelat, sweep_out, tmp_path,
                                                                                       caplog):
    """--out into a run folder, or beside a user's summary.md, is refused; a summary.json that lists a
    user's file does not get it deleted; a metrics.json edited after evaluate wrote it is left out."""
    import shutil

    runs = tmp_path / "runs"
    for run in sorted(sweep_out.glob("digits-*-s0-*"))[:2]:
        shutil.copytree(run, runs / run.name)
    target = next(runs.iterdir())
    findings = (target / "findings.json").read_bytes()
    code, _, stderr = aelat("summarize", str(runs), "--out", str(target), overrides=False)
    assert code == 1 and "findings.json, which summarize did not write there" in stderr, stderr
    assert (target / "findings.json").read_bytes() == findings

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    (mine / "summary.json").write_text(json.dumps({"files": ["thesis.tex", "../runs/x.png"]}))
    assert aelat("summarize", str(runs), "--out", str(mine), overrides=False)[0] == 0
    assert (mine / "thesis.tex").read_text() == "mine"
    (mine / "summary.md").unlink()
    (mine / "summary.md").write_text("my notes")  # a summary.md the record does not list... after a rewrite
    record = json.loads((mine / "summary.json").read_text())
    (mine / "summary.json").write_text(json.dumps({**record, "files": [f for f in record["files"] if f != "summary.md"]}))
    code, _, stderr = aelat("summarize", str(runs), "--out", str(mine), overrides=False)
    assert code == 1 and "summary.md, which summarize did not write there" in stderr
    assert (mine / "summary.md").read_text() == "my notes"

    metrics = json.loads((target / "metrics.json").read_text())
    metrics["representations"]["latent"]["structure"]["knn_accuracy_10"] = 0.999
    (target / "metrics.json").write_text(json.dumps(metrics))
    code, _, stderr = aelat("summarize", str(runs), "--out", str(tmp_path / "forged"), overrides=False)
    assert code == 0, stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"skipping {target / 'metrics.json'}" in w and "changed" in w for w in warnings), warnings
    assert "0.999" not in (tmp_path / "forged" / "summary.csv").read_text()
