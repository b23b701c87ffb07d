"""`aelat score FILE.npz [--raw RAW.npz]`: embeddings made outside aelat, scored like its own latent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import aelat as aelat_api
from aelat import artifacts

EVAL_FAST = ["evaluate.distribution.n_bootstrap=20", "evaluate.neighbourhood.sample_size=200", "evaluate.n2d.of=[]"]


@pytest.fixture
def files(tmp_path):
    """digits split as aelat splits it (seed 0), string labels, and a 5-d PCA made outside aelat."""
    digits = load_digits()
    x, y = (digits.images / 16.0).astype(np.float32).reshape(len(digits.images), -1), digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    names = np.array([f"digit {i}" for i in range(10)])
    pca = PCA(n_components=5, random_state=0).fit(x_train)
    np.savez(tmp_path / "emb.npz", z_train=pca.transform(x_train), z_test=pca.transform(x_test),
             y_train=names[y_train], y_test=names[y_test])
    np.savez(tmp_path / "raw.npz", Xtr=x_train, ytr=names[y_train], Xte=x_test, yte=names[y_test])
    return tmp_path / "emb.npz", tmp_path / "raw.npz"


def run_folder(out):
    return (out / "latest").resolve()


def test_scores_an_outside_pca_like_aelat_scores_its_own(files, aelat, out):
    """The embedding is PCA computed outside aelat: its scores equal those of aelat's PCA baseline."""
    emb, raw = files
    code, stdout, stderr = aelat("score", str(emb), "--raw", str(raw), "--method", "pca", *EVAL_FAST)
    assert code == 0, stderr
    folder = run_folder(out)
    assert folder.name.startswith("raw.npz-emb-d5-s0-")
    scores = json.loads((folder / artifacts.METRICS).read_text())["representations"]
    assert set(scores) == {"raw", "pca", "latent", "pca(raw)", "pca(latent)"}  # pca(pca) is pca(raw) again
    assert scores["latent"]["structure"] == scores["pca"]["structure"]
    assert scores["latent"]["distribution"] == scores["pca"]["distribution"]
    assert scores["latent"]["recon_mse"] is None and scores["raw"]["dim"] == 64
    report = (folder / "report.md").read_text()
    assert "embeddings **emb.npz** (made outside aelat), raw input **raw.npz**" in report
    assert "report_maps_pca.png" in report and "report_training.png" not in report
    assert "latent" in stdout  # the tables
    assert (folder / "report.html").is_file()


def test_without_the_raw_input_only_the_embedding_is_scored(files, aelat, out):
    emb, _ = files
    code, _, stderr = aelat("score", str(emb), *EVAL_FAST)
    assert code == 0, stderr
    folder = run_folder(out)
    assert folder.name.startswith("emb.npz-d5-s0-")
    scores = json.loads((folder / artifacts.METRICS).read_text())["representations"]
    assert list(scores) == ["latent"] and scores["latent"]["structure"]["knn_accuracy_1"] > 0.8
    assert artifacts.read_npz(folder / artifacts.LATENTS, ["class_names"])["class_names"][0] == "digit 0"
    code, _, stderr = aelat("embed", "--method", "pca", "--of", "all", "--run", str(folder))  # more maps later
    assert code == 0, stderr
    code, _, stderr = aelat("embed", "--method", "pca", "--of", "raw", "--run", str(folder))
    assert code == 1 and f"{folder} holds no raw representation, only latent" in stderr
    code, _, stderr = aelat("summarize", str(out), overrides=False)  # a sweep summary without raw scores
    assert code == 0, stderr
    summary = (out / "summary" / "summary.md").read_text()
    assert "1 run: latent size 5; seed 0." in summary
    assert "The latent's " in summary and "Across latent sizes" not in summary, summary  # one size
    assert "over the comparisons stated (none here)" in summary and "0 comparisons" not in summary, summary
    for command in ("encode", "analyse"):  # no network
        code, _, stderr = aelat(command, "--run", str(folder))
        assert code == 1 and "holds embeddings made outside aelat (model=external): it has no network" in stderr
        assert stderr.strip().splitlines()[-1].startswith("aelat: error:"), stderr


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda a: a.pop("z_test"), "emb.npz lacks z_test"),
        (lambda a: a.update(z_test=a["z_test"][:, :3]), "z_train has 5 columns but z_test 3"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), "y_train has shape (1346,) but z_train holds 1347 samples"),
        (lambda a: a.update(y_test=np.stack([a["y_test"]] * 2, axis=1)), "y_test has shape (450, 2), a row of 2 values"),
        (lambda a: a.update(y_train=np.roll(a["y_train"], 1)), "differ from those of"),
        (lambda a: a.update(z_train=a["z_train"] * 1e37), "z_train values reach"),  # squares overflow float32
        (lambda a: a.update(z_train=np.zeros_like(a["z_train"])), "every z_train row is the same point"),
    ],
)
def test_bad_embeddings_are_one_line(files, aelat, out, damage, message):
    emb, raw = files
    arrays = dict(np.load(emb))
    damage(arrays)
    np.savez(emb, **arrays)
    code, _, stderr = aelat("score", str(emb), "--raw", str(raw))
    assert code == 1
    assert message in stderr and stderr.strip().splitlines()[-1].startswith("aelat: error:"), stderr


def test_external_embeddings_cannot_be_trained(files, aelat, out):
    emb, raw = files
    assert aelat("score", str(emb), "--raw", str(raw), *EVAL_FAST)[0] == 0
    config = aelat_api.load_run(run_folder(out)).config
    with pytest.raises(aelat_api.ConfigError, match=r"model=external\): it has no network \(model.pt\) to train, encode or analyse"):
        aelat_api.run(config, methods=[])


def test_a_changed_embeddings_file_makes_the_run_stale(files, aelat, out):
    """The embeddings file is data the run is made from, like its raw input: a change is detected."""
    emb, raw = files
    assert aelat("score", str(emb), "--raw", str(raw), *EVAL_FAST)[0] == 0
    folder = run_folder(out)
    arrays = dict(np.load(emb))
    np.savez(emb, **(arrays | {"z_test": arrays["z_test"][::-1].copy()}))
    code, _, stderr = aelat("evaluate", "--run", str(folder), *EVAL_FAST)
    assert code == 1
    assert f"the embeddings file {emb} or dataset.path={raw} changed" in stderr
    assert f"re-run `aelat score {emb} --raw {raw}`" in stderr and "aelat run" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("aelat: error:"), stderr
    assert aelat("score", str(emb), "--raw", str(raw), *EVAL_FAST)[0] == 0  # scored again: fresh
    assert aelat("evaluate", "--run", str(folder), *EVAL_FAST)[0] == 0
    scores = json.loads((folder / artifacts.METRICS).read_text())["representations"]
    assert scores["latent"]["structure"]["knn_accuracy_1"] < 0.3  # the shuffled test codes were scored


def test_an_unknown_of_is_named_even_without_maps(files, aelat, out):
    emb, _ = files
    code, _, stderr = aelat("score", str(emb), "--of", "bogus")
    assert code == 1 and "unknown --of 'bogus'; choose one of: raw, pca, untrained, latent, all" in stderr
    assert not any(out.glob("*/metrics.json"))


@pytest.mark.parametrize("with_raw", [False, True])
def test_a_scored_run_exports_its_tensors_without_a_sprite(files, aelat, out, with_raw):
    """Embeddings made outside aelat have no images: the projector gets the tensors and labels, no sprite."""
    emb, raw = files
    assert aelat("score", str(emb), *(["--raw", str(raw)] if with_raw else []), *EVAL_FAST)[0] == 0
    folder = run_folder(out)
    code, _, stderr = aelat("export", "--tensorboard", "--run", str(folder), "--max-points", "50", overrides=False)
    assert code == 0, stderr
    exported = folder / "tensorboard"
    tensors = {path.stem for path in exported.glob("*.tsv")} - {"metadata"}
    assert tensors == ({"raw", "pca", "latent"} if with_raw else {"latent"})
    assert not (exported / "sprite.png").exists() and "sprite" not in (exported / "projector_config.pbtxt").read_text()
    record = json.loads((exported / "aelat_export.json").read_text())
    rows = np.array([int(line.split("\t")[1]) for line in (exported / "metadata.tsv").read_text().splitlines()[1:]])
    assert record["points"] == len(rows) == 50
    z_test = np.load(emb)["z_test"]
    np.testing.assert_allclose(np.loadtxt(exported / "latent.tsv", delimiter="\t"), z_test[rows], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("extra, message", [
    (["latent_dim=7"], "aelat score takes latent_dim from the embeddings file and --raw; remove latent_dim=7"),
    (["model=conv"], "aelat score takes model from the embeddings file and --raw; remove model=conv"),
    (["dataset=mnist"], "aelat score takes dataset from the embeddings file and --raw; remove dataset=mnist"),
    (["--raw", "EMB"], "is the embeddings file itself"),
])
def test_settings_the_embeddings_decide_are_refused_not_ignored(files, aelat, out, extra, message):
    emb, _ = files
    code, _, stderr = aelat("score", str(emb), *[str(emb) if arg == "EMB" else arg for arg in extra])
    assert code == 1 and message in stderr and stderr.strip().splitlines()[-1].startswith("aelat: error:"), stderr
    assert not [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else True
