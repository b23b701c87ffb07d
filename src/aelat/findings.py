"""The answer, computed: a run's Findings (report.md) and its claims (findings.json).

Every sentence is generated from the numbers in metrics.json (and the training log), never written
for a dataset. It answers, in order: what class structure the raw input already has (the balanced
accuracy of its kNN votes and linear probe against chance, 1 / the number of classes) and whether a
random network of the encoder's shape keeps it;
what training adds beyond PCA of the same size and beyond the raw input; what each 2-D map adds
or invents against the representation it was made from; and the shape of Q (one Gaussian or not,
a mixture's best number of components, intrinsic dimension against the raw input's), then the
N2D-style clustering score.

Each comparison behind a sentence is one claim: ``id``, ``statement``, ``metric``, ``a``, ``b``,
``difference`` (a - b), ``ci_low``, ``ci_high``, ``test``, ``p_value`` (the test's own),
``p_holm`` and ``verdict`` (``a_higher``, ``b_higher``, ``no_detectable_difference`` or
``warning``). A difference is called real only when its interval excludes 0 *and* its p-value,
Holm-adjusted over every comparison stated, is below ``alpha``, so the family-wise error rate of
all the claims "A beats B" together stays at ``alpha``. Gaussianity tests are reported beside
them, uncorrected: their parametric-bootstrap p-value has a floor (1 / (n_bootstrap + 1)) that Holm's
correction would turn into "no evidence" whatever the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from aelat.metrics.confidence import holm, t_interval

__all__ = [
    "Claim",
    "Findings",
    "claim_statement",
    "decide",
    "describe_p",
    "format_difference",
    "format_number",
    "lookup",
    "metric_title",
    "primary_knn",
    "run_findings",
    "warning_claim",
]

A_HIGHER, B_HIGHER, SAME, WARNING = "a_higher", "b_higher", "no_detectable_difference", "warning"
NAMES = {"raw": "the raw input", "pca": "PCA", "untrained": "the untrained encoder", "latent": "the latent"}
METHODS = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
# Metric -> its name in a sentence.
TITLES = {"probe_accuracy": "linear probe", "between_class_variance_share": "between-class variance share",
          "gmm_nmi": "GMM NMI", "silhouette": "silhouette", "intrinsic_dimension.twonn": "intrinsic dimension (TwoNN)"}


@dataclass
class Claim:
    """One statement of the Findings, with the numbers and the test behind it."""

    id: str
    statement: str
    metric: str | None = None
    a: str | None = None
    b: str | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    test: str | None = None
    p_value: float | None = None
    p_holm: float | None = None
    verdict: str = SAME
    a_value: float | None = None
    b_value: float | None = None
    corrected: bool = True  # part of the Holm family


@dataclass
class Findings:
    """The Findings' sentences, its warnings and every claim behind them."""

    sentences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    alpha: float = 0.05
    # how the intervals were made, for the note under the sentences
    methods: str = ("Wilson for one accuracy; Newcombe with McNemar's mid-p test for two accuracies on the same "
                    "test points; a paired bootstrap or the delta method for the other metrics")

    def to_json(self) -> dict:
        tested = sum(claim.corrected and claim.p_value is not None for claim in self.claims)
        return {"alpha": self.alpha, "correction": f"Holm over {tested} comparisons",
                "claims": [asdict(claim) for claim in self.claims]}

    def markdown(self) -> str:
        tested = sum(claim.corrected and claim.p_value is not None for claim in self.claims)
        family = (f"Holm-adjusted over the {tested} comparison{'s' if tested > 1 else ''} stated" if tested
                  else "Holm-adjusted over the comparisons stated (none here)")
        lines = ["## Findings", "", " ".join(self.sentences), "",
                 f"*Intervals are 95% ({self.methods}). A difference counts as detected when its interval "
                 f"excludes 0 and its p-value, {family}, is below {self.alpha:g}; every claim is "
                 f"in findings.json.*"]
        if self.warnings:
            lines += ["", "**Warnings**", ""] + [f"- {warning}" for warning in self.warnings]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- formatting


def describe_p(p: float | None) -> str:
    """``p < 0.001`` or ``p = 0.012``."""
    if p is None:
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def format_number(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}".replace("-", "−")


def _signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def _interval(claim: Claim, digits: int = 3) -> str:
    return f"95% CI [{format_number(claim.ci_low, digits)}, {format_number(claim.ci_high, digits)}]"


def format_difference(claim: Claim, digits: int = 3) -> str:
    """``+0.008, 95% CI [0.005, 0.011], p < 0.001`` (p Holm-adjusted where the claim is in the family,
    and said so where that alone makes a difference whose interval excludes 0 undetected)."""
    p = claim.p_holm if claim.corrected else claim.p_value
    text = f"{_signed(claim.difference, digits)}, {_interval(claim, digits)}, {describe_p(p)}"
    excludes_zero = claim.ci_low is not None and (claim.ci_low > 0 or claim.ci_high < 0)
    if claim.corrected and claim.verdict == SAME and excludes_zero:
        text += " after Holm's correction over the run's comparisons (the interval is not corrected)"
    return text


def _pm(value: float, ci: list | None, digits: int = 3) -> str:
    """``0.969 ± 0.003``: the larger side of the interval, so the ± never understates it."""
    if not ci:
        return format_number(value, digits)
    return f"{format_number(value, digits)} ± {format_number(max(value - ci[0], ci[1] - value), digits)}"


def _value_interval(claim: Claim) -> list[float]:
    """The interval of ``claim.a_value`` (a claim holds the interval of the difference a - b)."""
    return [claim.ci_low + claim.b_value, claim.ci_high + claim.b_value]


def map_name(name: str) -> str:
    """``tsne(latent)`` -> ``the t-SNE map of the latent``."""
    method, source = name.rstrip(")").split("(")
    return f"the {METHODS.get(method, method)} map of {NAMES.get(source, source)}"


def lookup(row: dict, path: str):
    """The value at a dotted ``path`` of nested dicts (``structure.n2d.accuracy``); None where it is missing."""
    for key in path.split("."):
        if not isinstance(row, dict) or key not in row:
            return None
        row = row[key]
    return row


# --------------------------------------------------------------------------- claims


def decide(claim: Claim, alpha: float) -> str:
    """The verdict: a side is higher only when its interval excludes 0 and the (Holm-adjusted) p < alpha."""
    p = claim.p_holm if claim.corrected else claim.p_value
    if claim.p_value is None or claim.ci_low is None or p is None or p >= alpha:
        return SAME
    if claim.ci_low > 0:
        return A_HIGHER
    if claim.ci_high < 0:
        return B_HIGHER
    return SAME


def _comparison_claim(comparisons: dict, a: str, b: str, metric: str) -> Claim | None:
    entry = comparisons.get(f"{a} vs {b}", {}).get("metrics", {}).get(metric)
    if entry is None:
        return None
    if "fits" in entry and min(entry["fits"]) < 2:
        return None  # one clustering fit: its fit-to-fit spread is unknown, so no claim
    return Claim(id=f"{a}_vs_{b}.{metric}", statement="", metric=metric, a=a, b=b, difference=entry["difference"],
                 ci_low=entry["ci_low"], ci_high=entry["ci_high"], test=entry["test"], p_value=entry["p_value"],
                 a_value=entry["a"], b_value=entry["b"])


def _chance_claim(name: str, scores: dict, metric: str) -> Claim | None:
    """The balanced accuracy of ``metric``'s votes against chance (evaluate's ``structure.vs_chance``, see
    :func:`aelat.metrics.confidence.balanced_accuracy_vs_chance`): plain accuracy against the commonest
    class's share would call a small class told apart from the rest no structure."""
    test = scores.get(name, {}).get("structure", {}).get("vs_chance", {}).get(metric)
    if test is None:
        return None
    value, chance = test["balanced_accuracy"], test["chance"]
    low, high = test["ci"]
    return Claim(id=f"{name}_vs_chance.{metric}", statement="", metric=f"balanced_{metric}", a=name, b="chance",
                 difference=value - chance, ci_low=low - chance, ci_high=high - chance, test=test["test"],
                 p_value=test["p_value"], a_value=value, b_value=chance)


def _id_claim(scores: dict, a: str, b: str) -> Claim | None:
    """Intrinsic dimension of a minus b over their paired disjoint draws (t interval)."""
    draws_a = lookup(scores.get(a, {}), "shape.intrinsic_dimension_draws.twonn")
    draws_b = lookup(scores.get(b, {}), "shape.intrinsic_dimension_draws.twonn")
    if not draws_a or not draws_b or len(draws_a) != len(draws_b):
        return None
    t = t_interval(np.subtract(draws_a, draws_b))
    if t["ci_low"] is None:
        return None
    return Claim(id=f"{a}_vs_{b}.intrinsic_dimension.twonn", statement="", metric="intrinsic_dimension.twonn", a=a,
                 b=b, difference=t["mean"], ci_low=t["ci_low"], ci_high=t["ci_high"],
                 test=f"paired t-test over {len(draws_a)} disjoint draws", p_value=t["p_value"],
                 a_value=float(np.mean(draws_a)), b_value=float(np.mean(draws_b)))


def _gaussianity_claim(scores: dict, cfg: dict, alpha: float) -> Claim | None:
    """The latent's pooled Q against its moment-matched Gaussian (MMD² parametric-bootstrap test; not
    in the Holm family, since a bootstrap p-value cannot fall below 1 / (n_bootstrap + 1))."""
    pooled = lookup(scores.get("latent", {}), "distribution.gaussianity.pooled")
    if not pooled:
        return None
    floor = p_floor(pooled, cfg)
    different = pooled["p_value"] < alpha
    statement = (f"MMD² of the latent's pooled distribution to its moment-matched Gaussian: {_mmd2(pooled)} "
                 f"({_bootstrap_p(pooled, cfg)}): "
                 f"{'not Gaussian' if different else 'no detectable departure from a Gaussian'}.")
    return Claim(id="latent.gaussianity", statement=statement, metric="distribution.gaussianity.pooled.mmd2",
                 a="latent", b="its moment-matched Gaussian", difference=pooled["mmd2"],
                 test=f"MMD² test against the fitted Gaussian (p-value floor {floor:.2g}; outside the Holm family)",
                 p_value=pooled["p_value"], verdict=A_HIGHER if different else SAME, a_value=pooled["mmd2"],
                 b_value=0.0, corrected=False)


def p_floor(test: dict, cfg: dict) -> float:
    """The smallest p-value a Gaussianity test can give: its own ``p_floor`` when it states one, else
    1 / (n_bootstrap + 1) from the run's config."""
    if test.get("p_floor") is not None:
        return float(test["p_floor"])
    distribution = cfg["evaluate"]["distribution"]
    return 1 / (distribution["n_bootstrap"] + 1)


def _bootstrap_p(test: dict, cfg: dict) -> str:
    """``p ≤ 0.005, the test's floor`` when a resampling p-value is at its floor, else ``p = ...``."""
    floor = p_floor(test, cfg)
    return f"p ≤ {floor:.2g}, the test's floor" if test["p_value"] <= floor else describe_p(test["p_value"])


def _mmd2(test: dict) -> str:
    """The MMD² effect size, with its standard error when the test gives one."""
    se = test.get("mmd2_se")
    return f"{test['mmd2']:.3g}" + (f" ± {se:.2g} (s.e.)" if se is not None else "")


def primary_knn(structure: dict) -> str | None:
    """The kNN metric the Findings quote: k = 10 when measured, else the largest k."""
    ks = sorted(int(key.split("_")[-1]) for key in structure if key.startswith("knn_accuracy_") and
                not key.endswith("_ci"))
    if not ks:
        return None
    return f"knn_accuracy_{10 if 10 in ks else ks[-1]}"


def _quote(claim: Claim, verdict_word: bool = True) -> str:
    """``kNN@10 0.969 against 0.961 (+0.008, 95% CI [...], p < 0.001)``, with "no detectable difference"
    in front of the numbers when there is none and ``verdict_word``."""
    digits = 1 if claim.metric.startswith("intrinsic") else 3
    prefix = "no detectable difference: " if verdict_word and claim.verdict == SAME else ""
    return (f"{metric_title(claim.metric)} {format_number(claim.a_value, digits)} against {format_number(claim.b_value, digits)} "
            f"({prefix}{format_difference(claim, digits)})")


def metric_title(metric: str) -> str:
    if metric.startswith("balanced_"):
        return f"balanced {metric_title(metric[len('balanced_'):])}"
    if metric.startswith("knn_accuracy_"):
        return f"kNN@{metric.split('_')[-1]}"
    return TITLES.get(metric, metric)


# --------------------------------------------------------------------------- the run's findings


def run_findings(metrics: dict, train_log: np.ndarray | None = None, *, alpha: float = 0.05,
                 min_trustworthiness: float = 0.9, loss_still_falling: float = 0.01) -> Findings:
    """The Findings of one run, from its metrics.json and (optionally) its training log.

    Parameters
    ----------
    metrics : dict
        The content of metrics.json (with ``comparisons`` and ``data``).
    train_log : structured ndarray, optional
        train_log.csv (fields ``epoch``, ``test_loss``), for the under-training warning.
    alpha : float
        Family-wise error rate of the comparisons stated.
    min_trustworthiness : float
        2-D maps whose trustworthiness is below this are flagged.
    loss_still_falling : float
        Relative fall of the test loss per epoch, over the last 3 epochs, that flags under-training.

    Returns
    -------
    Findings
    """
    scores, comparisons = metrics["representations"], metrics.get("comparisons", {})
    knn = primary_knn(scores.get("raw", scores["latent"])["structure"])  # no raw: embeddings scored alone
    maps = [name for name, row in scores.items() if row.get("source")]
    claims: dict[str, Claim] = {}

    def add(claim: Claim | None) -> None:
        if claim is not None:
            claims[claim.id] = claim

    for name in [*NAMES, *maps]:
        add(_chance_claim(name, scores, knn))
    for name in NAMES:
        add(_chance_claim(name, scores, "probe_accuracy"))
    base_metrics = [knn, "probe_accuracy", "between_class_variance_share", "gmm_nmi"]
    for a, b in (("untrained", "raw"), ("latent", "pca"), ("latent", "raw")):
        for metric in base_metrics:
            add(_comparison_claim(comparisons, a, b, metric))
    for name in maps:
        for metric in (knn, "silhouette", "gmm_nmi"):
            add(_comparison_claim(comparisons, name, scores[name]["source"], metric))
    add(_id_claim(scores, "latent", "raw"))
    family = [claim for claim in claims.values() if claim.corrected and claim.p_value is not None]
    for claim, adjusted in zip(family, holm([claim.p_value for claim in family]) if family else []):
        claim.p_holm = float(adjusted)
    for claim in claims.values():
        claim.verdict = decide(claim, alpha)
        claim.statement = claim_statement(claim)
    gaussianity = _gaussianity_claim(scores, metrics["config"], alpha)
    if gaussianity is not None:
        claims[gaussianity.id] = gaussianity

    findings = Findings(alpha=alpha)
    writer = _Writer(scores, claims, knn, metrics["config"])
    for sentence in (writer.data_had(), writer.untrained(), writer.training("pca"), writer.training("raw"),
                     writer.maps(maps), writer.shape(), writer.n2d()):
        if sentence:
            findings.sentences.append(sentence)
    findings.claims = list(claims.values())
    for claim in _warnings(metrics, train_log, claims, knn, maps, min_trustworthiness, loss_still_falling):
        findings.claims.append(claim)
        findings.warnings.append(claim.statement)
    return findings


def claim_statement(claim: Claim) -> str:
    """One line per claim for findings.json: what was compared, the numbers and the verdict."""
    a = NAMES.get(claim.a) or (map_name(claim.a) if "(" in (claim.a or "") else claim.a)
    b = NAMES.get(claim.b) or (map_name(claim.b) if "(" in (claim.b or "") else claim.b)
    if claim.b == "chance":
        b = "chance"
    digits = 1 if claim.metric.startswith("intrinsic") else 3
    verdict = {A_HIGHER: f"{a} is higher", B_HIGHER: f"{b} is higher", SAME: "no detectable difference"}[claim.verdict]
    return (f"{metric_title(claim.metric)}: {a} {format_number(claim.a_value, digits)} against {b} {format_number(claim.b_value, digits)} "
            f"({format_difference(claim, digits)}): {verdict}.")


class _Writer:
    """The sentences of the Findings, each from the claims it quotes."""

    def __init__(self, scores: dict, claims: dict[str, Claim], knn: str, cfg: dict):
        self.scores, self.claims, self.knn, self.cfg = scores, claims, knn, cfg

    def claim(self, a: str, b: str, metric: str) -> Claim | None:
        return self.claims.get(f"{a}_vs_{b}.{metric}")

    def has_structure(self, name: str) -> bool:
        """Whether ``name``'s kNN votes or linear probe beat chance."""
        return any(claim is not None and claim.verdict == A_HIGHER
                   for claim in (self.claim(name, "chance", self.knn), self.claim(name, "chance", "probe_accuracy")))

    def data_had(self) -> str:
        knn, probe = self.claim("raw", "chance", self.knn), self.claim("raw", "chance", "probe_accuracy")
        if knn is None:
            return ""
        tests = [claim for claim in (knn, probe) if claim is not None]
        quoted = "; ".join(f"{metric_title(claim.metric)} {_pm(claim.a_value, _value_interval(claim))} against "
                           f"{format_number(claim.b_value)} for chance ({describe_p(claim.p_holm)})" for claim in tests)
        if knn.verdict == A_HIGHER:
            return f"The raw input already separates the classes beyond chance: {quoted}."
        if probe is not None and probe.verdict == A_HIGHER:
            return (f"The raw input's classes are told apart beyond chance by a linear probe but not by their "
                    f"nearest neighbours: {quoted}.")
        return f"The raw input shows no class structure beyond chance: {quoted}."

    def untrained(self) -> str:
        claims = [claim for claim in (self.claim("untrained", "raw", metric) for metric in (self.knn, "probe_accuracy"))
                  if claim is not None]
        if not claims:
            return ""
        verdicts = {claim.verdict for claim in claims}
        if B_HIGHER in verdicts:  # what it loses is the news, even where it also gains
            verb, quoted = "loses part of the raw input's class structure", [c for c in claims if c.verdict == B_HIGHER]
        elif A_HIGHER in verdicts:
            verb, quoted = "adds to the raw input's class structure", [c for c in claims if c.verdict == A_HIGHER]
        elif self.has_structure("raw"):
            verb, quoted = "keeps the raw input's class structure, with no detectable difference", claims[:1]
        else:
            verb, quoted = "shows no more class structure than the raw input", claims[:1]
        share = self.claim("untrained", "raw", "between_class_variance_share")
        parts = [f"{metric_title(c.metric)} {format_number(c.a_value)} against {format_number(c.b_value)} "
                 f"({format_difference(c)})" for c in quoted] + ([_quote(share)] if share is not None else [])
        return f"A random, untrained encoder of the same shape {verb}: {'; '.join(parts)}."

    def training(self, baseline: str) -> str:
        """What training adds beyond ``baseline`` (pca or raw), metric by metric.

        The sentence says "adds class structure" only when a classifier (kNN or the probe) detects a
        gain and no metric a loss; otherwise it lists what is higher, lower and not different.
        """
        metrics = [self.knn, "probe_accuracy", "between_class_variance_share", "gmm_nmi"]
        found = [c for c in (self.claim("latent", baseline, m) for m in metrics) if c is not None]
        if not found:
            return ""
        dim = self.scores["latent"]["dim"]
        against = (f"PCA of the same size ({self.scores['pca']['dim']}-d)" if baseline == "pca"
                   else f"the raw input ({self.scores['raw']['dim']}-d)")
        parts = {verdict: [_quote(c, verdict_word=False) for c in found if c.verdict == verdict]
                 for verdict in (A_HIGHER, B_HIGHER, SAME)}
        classifiers_gain = any(c.verdict == A_HIGHER for c in found if c.metric in (self.knn, "probe_accuracy"))
        classifiers_loss = any(c.verdict == B_HIGHER for c in found if c.metric in (self.knn, "probe_accuracy"))
        same = "; no detectable difference in " + "; ".join(parts[SAME]) if parts[SAME] else ""
        if not parts[A_HIGHER] and not parts[B_HIGHER]:
            if baseline == "pca":
                return f"Training adds nothing detectable beyond {against}: " + "; ".join(parts[SAME]) + "."
            return f"The {dim}-d latent shows no detectable difference from {against}: " + "; ".join(parts[SAME]) + "."
        if classifiers_gain and not parts[B_HIGHER]:
            gain = (f"Training adds class structure beyond {against}" if baseline == "pca"
                    else f"The {dim}-d latent shows more class structure than {against}")
            return f"{gain}: " + "; ".join(parts[A_HIGHER]) + same + "."
        if classifiers_loss and not parts[A_HIGHER]:
            return f"The {dim}-d latent keeps less class structure than {against}: " + "; ".join(parts[B_HIGHER]) + same + "."
        pieces = []
        if parts[A_HIGHER]:
            pieces.append("is higher in " + "; ".join(parts[A_HIGHER]))
        if parts[B_HIGHER]:
            pieces.append("is lower in " + "; ".join(parts[B_HIGHER]))
        return f"Against {against}, the {dim}-d latent " + ", and ".join(pieces) + same + "."

    def maps(self, maps: list[str]) -> str:
        """One sentence on the maps of one method (t-SNE first, then UMAP, then PCA): the raw input's
        map and the latent's, each against the representation it was made from."""
        methods = sorted({name.split("(")[0] for name in maps}, key=lambda m: (list(METHODS).index(m)
                                                                              if m in METHODS else len(METHODS), m))
        for method in methods:
            parts = [self._map_part(f"{method}({source})", source) for source in ("raw", "latent")
                     if f"{method}({source})" in self.scores]
            parts = [part for part in parts if part]
            if parts:
                sentence = "; ".join(parts) + "."
                return sentence[0].upper() + sentence[1:]
        return ""

    def _map_part(self, name: str, source: str) -> str:
        chance = self.claim(name, "chance", self.knn)
        knn = self.claim(name, source, self.knn)
        sil = self.claim(name, source, "silhouette")
        title = map_name(name)
        if chance is not None and chance.verdict != A_HIGHER:
            return (f"{title} shows no class structure beyond chance ({metric_title(chance.metric)} "
                    f"{format_number(chance.a_value)} against {format_number(chance.b_value)}): whatever groups it "
                    "draws are not the classes")
        pieces = []
        if knn is not None:
            how = {A_HIGHER: "more class neighbourhoods than", B_HIGHER: "fewer class neighbourhoods than",
                   SAME: "as many class neighbourhoods as"}[knn.verdict]
            pieces.append(f"keeps {how} {NAMES[source]} ({metric_title(self.knn)} "
                          f"{format_number(knn.a_value)} against {format_number(knn.b_value)}, {format_difference(knn)})")
        if sil is not None:
            if sil.verdict == A_HIGHER:
                pieces.append(f"draws the classes as more separate islands than they are in {NAMES[source]} "
                              f"(silhouette {format_number(sil.a_value)} against {format_number(sil.b_value)}, {format_difference(sil)}), "
                              "so the empty space between its islands is drawn by the map: judge the classes by the "
                              "neighbourhoods it keeps (silhouettes of spaces of different dimension compare only "
                              "roughly)")
            else:
                relation = "less" if sil.verdict == B_HIGHER else "no more"
                pieces.append(f"separates the classes {relation} than {NAMES[source]} does (silhouette "
                              f"{format_number(sil.a_value)} against {format_number(sil.b_value)}, {format_difference(sil)})")
        return f"{title} " + " and ".join(pieces) if pieces else ""

    def shape(self) -> str:
        """Q's shape: one Gaussian or not, the mixture size BIC picks, its dimension against the raw input's."""
        row = self.scores.get("latent", {})
        parts = []
        pooled = lookup(row, "distribution.gaussianity.pooled")
        if pooled:
            p_text = _bootstrap_p(pooled, self.cfg)
            per_class = lookup(row, "distribution.gaussianity.per_class") or {}
            rejected = sum(c["p_value"] < 0.05 for c in per_class.values())
            verdict = "is not one Gaussian" if pooled["p_value"] < 0.05 else "cannot be told from one Gaussian"
            parts.append(f"{verdict} (MMD² to its moment-matched Gaussian {_mmd2(pooled)}, {p_text}), and "
                         f"{rejected} of its {len(per_class)} classes differ from a Gaussian at p < 0.05")
        bic = lookup(row, "shape.gmm_bic")
        if bic and bic["best"] is not None:
            largest = "; the largest size tried" if bic["best"] == max(bic["components"]) and len(bic["components"]) > 1 else ""
            parts.append(f"is best fitted by a Gaussian mixture of {bic['best']} component{'s' * (bic['best'] != 1)} (lowest BIC among "
                         f"{', '.join(map(str, bic['components']))}{largest}) for {bic['classes']} classes")
        claim = self.claim("latent", "raw", "intrinsic_dimension.twonn")
        if claim is not None:
            draws = row["shape"]["intrinsic_dimension_draws"]
            relation = {A_HIGHER: "more", B_HIGHER: "fewer", SAME: "about as many"}[claim.verdict]
            parts.append(f"spreads over {relation} dimensions than the raw input: intrinsic dimension (TwoNN, "
                         f"{len(draws['twonn'])} draws of {draws['n_samples']} points) "
                         f"{format_number(claim.a_value, 1)} against {format_number(claim.b_value, 1)} "
                         f"({format_difference(claim, 1)})")
        if not parts:
            return ""
        return "Q, the latent's distribution, " + "; it ".join(parts) + "."

    def n2d(self) -> str:
        result = lookup(self.scores.get("latent", {}), "structure.n2d")
        if not result:
            return ""
        settings = result["settings"]
        text = (f"Clustered N2D-style (UMAP to {settings['n_components']} dimensions, then a "
                f"{settings['n_clusters']}-component Gaussian mixture), the latent's clusters match the classes "
                f"with accuracy {_pm(result['accuracy'], result.get('accuracy_ci'))} and NMI "
                f"{_pm(result['nmi'], result.get('nmi_ci'))}.")
        versus = result.get("versus_gmm", {}).get("accuracy")
        if versus is None:
            return text
        interval = (f"{_signed(versus['difference'])}, 95% CI [{format_number(versus['ci_low'])}, "
                    f"{format_number(versus['ci_high'])}]")
        if versus["ci_low"] <= 0 <= versus["ci_high"]:
            verdict = "no detectable difference"
        else:
            verdict = (f"{'higher' if versus['difference'] > 0 else 'lower'} on these points; the interval leaves "
                       "out the N2D fit's own randomness (one fit), so this holds for this fit")
        return text + (f" A Gaussian mixture on the latent itself reaches {format_number(versus['b'])}: N2D minus the "
                       f"mixture {interval}, {verdict}.")


# --------------------------------------------------------------------------- warnings


def warning_claim(id: str, statement: str, metric: str | None = None, a: str | None = None) -> Claim:
    return Claim(id=f"warning.{id}", statement=statement, metric=metric, a=a, verdict=WARNING, corrected=False)


def _warnings(metrics: dict, train_log, claims: dict[str, Claim], knn: str, maps: list[str],
              min_trustworthiness: float, loss_still_falling: float) -> list[Claim]:
    scores, data, cfg = metrics["representations"], metrics["data"], metrics["config"]
    out = []
    latent, pca = scores.get("latent", {}), scores.get("pca", {})
    if latent.get("recon_mse") is not None and pca.get("recon_mse") is not None and latent["recon_mse"] > pca["recon_mse"]:
        out.append(warning_claim("under_trained.reconstruction", (
            f"The trained encoder reconstructs the test set worse than PCA of the same size (MSE "
            f"{latent['recon_mse']:.4g} against {pca['recon_mse']:.4g}): the model looks under-trained, and what "
            "training adds may change with more epochs."), "recon_mse", "latent"))
    fall = _loss_fall(train_log)
    if fall is not None and fall > loss_still_falling:
        out.append(warning_claim("under_trained.loss", (
            f"The test loss still fell {100 * fall:.1f}% per epoch over the last epochs (more than "
            f"{100 * loss_still_falling:g}%): training had not converged, so the latent may still change."),
            "test_loss", "latent"))
    input_dim = data["input_dim"]  # None for embeddings scored without their raw input
    if (input_dim is not None and cfg["latent_dim"] >= input_dim) or (pca and pca["dim"] < cfg["latent_dim"]):
        out.append(warning_claim("latent_dim", (
            f"latent_dim = {cfg['latent_dim']} is not smaller than what PCA can keep ({pca.get('dim')} components, "
            f"input {data['input_dim']}-d): the encoder compresses nothing, and PCA of the same size is capped."),
            "dim", "latent"))
    out += _small_class_warnings(data, cfg, knn)
    neighbourhood_k = sorted(cfg["evaluate"]["neighbourhood"]["ks"])
    trust_key = f"trustworthiness_{10 if 10 in neighbourhood_k else neighbourhood_k[-1]}"
    for method in dict.fromkeys(name.split("(")[0] for name in maps):
        low = {name: lookup(scores[name], f"neighbourhood.{trust_key}") for name in maps if name.startswith(f"{method}(")}
        low = {name: trust for name, trust in low.items() if trust is not None and trust < min_trustworthiness}
        if low:
            listed = ", ".join(f"of {NAMES.get(scores[name]['source'])} {trust:.3f}" for name, trust in low.items())
            out.append(warning_claim(f"low_trustworthiness.{method}", (
                f"{METHODS.get(method, method)} maps keep neighbourhoods poorly (trustworthiness@"
                f"{trust_key.split('_')[-1]} below {min_trustworthiness:g}: {listed}): points near each other in "
                "such a map were often far apart in what it was made from, so its picture may mislead."),
                trust_key, ", ".join(low)))
    for name in maps:
        chance = claims.get(f"{name}_vs_chance.{knn}")
        if chance is not None and chance.verdict != A_HIGHER:
            out.append(warning_claim(f"not_class_related.{name}", (
                f"{map_name(name)[0].upper() + map_name(name)[1:]} shows no class structure beyond chance "
                f"({metric_title(chance.metric)} {format_number(chance.a_value)} against {format_number(chance.b_value)}): any groups or islands "
                "it shows are not the classes."), knn, name))
    out.append(warning_claim("one_seed", (
        f"One trained model (seed {cfg['seed']}): the intervals cover the test points and the clustering fits, "
        "not another training run. Run several seeds and `aelat summarize` them for intervals across seeds."),
        None, "latent"))
    return out


def _loss_fall(train_log) -> float | None:
    """Mean relative fall of the test loss per epoch over the last (up to) 3 epochs; None if too short."""
    if train_log is None or "test_loss" not in (train_log.dtype.names or ()):
        return None
    loss = np.atleast_1d(train_log["test_loss"]).astype(float)
    if len(loss) < 2 or not np.all(np.isfinite(loss[-4:])):
        return None
    recent = loss[-min(4, len(loss)):]
    if recent[-1] <= 0:
        return None
    return float((recent[0] - recent[-1]) / (len(recent) - 1) / abs(recent[-1]))


def _small_class_warnings(data: dict, cfg: dict, knn: str) -> list[Claim]:
    """Classes too small for kNN@k (fewer train points than k), for the per-class intrinsic dimension
    (fewer sampled points than 2 k) and for the per-class Gaussianity (fewer points than 5 d)."""
    out = []
    k = int(knn.split("_")[-1])
    ev = cfg["evaluate"]["distribution"]
    n = data["n_train"] + data["n_test"]
    id_share = min(1.0, ev["n_id_samples"] / n)
    dim = cfg["latent_dim"]
    for label, train, test in zip(data["classes"], data["train_counts"], data["test_counts"]):
        problems = []
        if train < k:
            problems.append(f"fewer train points than k = {k} for {metric_title(knn)}")
        if (train + test) * id_share < 2 * ev["k"]:
            problems.append(f"fewer than {2 * ev['k']} points in the intrinsic-dimension sample "
                            "for its per-class estimate")
        if train + test < 5 * dim:
            problems.append(f"fewer than 5 × {dim} points for its Gaussianity test in {dim} dimensions")
        if problems:
            out.append(warning_claim(f"small_class.{label}", (
                f"Class {label} has {train} train and {test} test points: " + "; ".join(problems) +
                ", so those numbers are unreliable for it."), None, None))
    return out
