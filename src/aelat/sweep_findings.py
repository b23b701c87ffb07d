"""A sweep's findings, computed: where the latent passes PCA and the raw input, and how Q changes with size.

Runs are grouped into families that differ only in ``latent_dim`` and ``seed`` (same dataset, model
and every other setting). Within a family, for each latent size, the latent is compared with PCA
of the same size and with the raw input on kNN@k, the linear probe, the between-class variance
share and GMM NMI. With two or more seeds the comparison is a paired t-test across seeds (each
seed's run gives one difference, so everything that changes with the seed, training included, is
in the interval); with one seed it is that run's own paired test on its test points
(:mod:`aelat.metrics.paired`), and a warning says so. All comparisons stated are Holm-adjusted
together, as in :mod:`aelat.findings`. The trends of the between-class variance share, the
intrinsic dimension and Gaussianity are quoted as mean ± t half-width across seeds.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from aelat.findings import (
    A_HIGHER,
    B_HIGHER,
    SAME,
    Claim,
    Findings,
    claim_statement,
    format_difference,
    format_number,
    metric_title,
    decide,
    warning_claim,
    primary_knn,
)
from aelat.metrics.confidence import holm, t_interval

__all__ = ["sweep_findings"]

# (title, path into a representation's metrics, digits) of the trends quoted across latent sizes.
TRENDS = (
    ("between-class variance share", "distribution.between_class_variance_share", 3),
    ("intrinsic dimension (TwoNN)", "distribution.intrinsic_dimension.pooled.twonn", 1),
    ("MMD² of the pooled Q to its moment-matched Gaussian", "distribution.gaussianity.pooled.mmd2", 3),
)
PATHS = {"between_class_variance_share": "distribution.between_class_variance_share", "gmm_nmi": "structure.gmm_nmi",
         "probe_accuracy": "structure.probe_accuracy"}


def _value(metrics: dict, representation: str, path: str):
    node = metrics["representations"].get(representation, {})
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def sweep_findings(runs: list[dict], *, alpha: float = 0.05) -> Findings:
    """The findings of a sweep.

    Parameters
    ----------
    runs : list of dict
        One per run: ``dataset``, ``model``, ``config`` (what else the run was made with, as a
        hashable value), ``latent_dim``, ``seed`` and ``metrics`` (its metrics.json).
    alpha : float
        Family-wise error rate of the comparisons stated.

    Returns
    -------
    Findings
    """
    families = defaultdict(list)
    for run in runs:
        families[run["dataset"], run["model"], run["config"]].append(run)
    findings = Findings(alpha=alpha, methods=(
        "a paired t interval across seeds, each seed's run giving one difference; with one seed, that run's "
        "own paired test on its test points"))
    named = len(families) > 1
    plans = []
    for (dataset, model, _), members in sorted(families.items(), key=lambda item: (item[0][0], item[0][1])):
        prefix = f"{dataset}, {model}: " if named else ""
        plans.append((prefix, _family_claims(members), members))
    claims = [claim for _, family, _ in plans for claim in family.values()]
    for claim, adjusted in zip(claims, holm([c.p_value for c in claims]) if claims else []):
        claim.p_holm = float(adjusted)
        claim.verdict = decide(claim, alpha)
        claim.statement = claim.id.split(".")[0] + ": " + claim_statement(claim)
    for prefix, family, members in plans:
        findings.sentences += [prefix + sentence for sentence in _family_sentences(family, members)]
        seeds = {d: len({r["seed"] for r in members if r["latent_dim"] == d}) for d in {r["latent_dim"] for r in members}}
        if min(seeds.values()) < 2:
            single = ", ".join(f"d = {d}" for d, n in sorted(seeds.items()) if n < 2)
            warning = warning_claim(f"one_seed.{prefix.strip(': ') or 'sweep'}", (
                f"{prefix or 'These '}latent sizes have one seed only ({single}): their comparisons are tests on "
                "the test points of one trained model, blind to seed-to-seed variation. Add seeds (seed=0,1,2) "
                "for intervals across seeds."))
            findings.claims.append(warning)
            findings.warnings.append(warning.statement)
    findings.claims = claims + findings.claims
    return findings


def _family_claims(members: list[dict]) -> dict[str, Claim]:
    """Latent against PCA and the raw input at each latent size of one family."""
    knn = _knn(members)
    claims = {}
    for d in sorted({r["latent_dim"] for r in members}):
        at_size = sorted((r for r in members if r["latent_dim"] == d), key=lambda r: r["seed"])
        for baseline in ("pca", "raw"):
            for metric in (knn, "probe_accuracy", "between_class_variance_share", "gmm_nmi"):
                claim = (_across_seeds(at_size, baseline, metric) if len(at_size) > 1
                         else _within_run(at_size[0], baseline, metric))
                if claim is not None:
                    claim.id = f"d={d}.latent_vs_{baseline}.{metric}"
                    claims[claim.id] = claim
    return claims


def _knn(members: list[dict]) -> str | None:
    """The kNN metric quoted: from the latent's scores, which every run has (embeddings scored without their
    raw input have no raw)."""
    return primary_knn(members[0]["metrics"]["representations"]["latent"]["structure"])


def _across_seeds(runs: list[dict], baseline: str, metric: str) -> Claim | None:
    path = PATHS.get(metric, f"structure.{metric}")
    pairs = [(_value(r["metrics"], "latent", path), _value(r["metrics"], baseline, path)) for r in runs]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(pairs) < 2:
        return None
    a, b = np.array(pairs, dtype=float).T
    t = t_interval(a - b)
    return Claim(id="", statement="", metric=metric, a="latent", b=baseline, difference=t["mean"], ci_low=t["ci_low"],
                 ci_high=t["ci_high"], test=f"paired t-test across {len(pairs)} seeds", p_value=t["p_value"],
                 a_value=float(a.mean()), b_value=float(b.mean()))


def _within_run(run: dict, baseline: str, metric: str) -> Claim | None:
    entry = run["metrics"].get("comparisons", {}).get(f"latent vs {baseline}", {}).get("metrics", {}).get(metric)
    if entry is None or ("fits" in entry and min(entry["fits"]) < 2):
        return None
    return Claim(id="", statement="", metric=metric, a="latent", b=baseline, difference=entry["difference"],
                 ci_low=entry["ci_low"], ci_high=entry["ci_high"], test=f"{entry['test']} (one seed)",
                 p_value=entry["p_value"], a_value=entry["a"], b_value=entry["b"])


def _sizes(ds: list[int]) -> str:
    return ", ".join(map(str, ds))


def _family_sentences(claims: dict[str, Claim], members: list[dict]) -> list[str]:
    sizes = sorted({r["latent_dim"] for r in members})
    seeds = sorted({r["seed"] for r in members})
    knn = _knn(members)
    sentences = [f"{len(members)} run{'s' * (len(members) != 1)}: latent size{'s' * (len(sizes) > 1)} {_sizes(sizes)}; "
                 f"seed{'s' * (len(seeds) > 1)} {_sizes(seeds)}."]
    for baseline, against in (("pca", "PCA of the same size"), ("raw", "the raw input")):
        parts = []
        for metric in (knn, "probe_accuracy", "between_class_variance_share", "gmm_nmi"):
            found = {d: claims.get(f"d={d}.latent_vs_{baseline}.{metric}") for d in sizes}
            found = {d: c for d, c in found.items() if c is not None}
            if not found:
                continue
            higher = [d for d, c in found.items() if c.verdict == A_HIGHER]
            lower = [d for d, c in found.items() if c.verdict == B_HIGHER]
            same = [d for d, c in found.items() if c.verdict == SAME]
            text = f"{metric_title(metric)}: "
            pieces = []
            if higher:
                best = max(higher, key=lambda d: found[d].difference)
                pieces.append(f"higher at d = {_sizes(higher)} (at {best}: {format_difference(found[best])})")
            if lower:
                worst = min(lower, key=lambda d: found[d].difference)
                pieces.append(f"lower at d = {_sizes(lower)} (at {worst}: {format_difference(found[worst])})")
            if same:
                pieces.append(f"no detectable difference at d = {_sizes(same)}")
            parts.append(text + ", ".join(pieces))
        if parts:
            sentences.append(f"The latent against {against}: " + "; ".join(parts) + ".")
    trend_parts = []
    for title, path, digits in TRENDS:
        latent = [(d, _seed_stat(members, d, "latent", path)) for d in sizes]
        latent = [(d, s) for d, s in latent if s is not None]
        raw = _seed_stat(members, None, "raw", path)
        if not latent:
            continue
        values = ", ".join(f"{_mean_pm(s, digits)} (d = {d})" for d, s in latent)
        raw_text = f"; raw input {_mean_pm(raw, digits)}" if raw is not None else ""
        trend_parts.append(f"the latent's {title} is {values}{raw_text}")
    if trend_parts:
        sentence = "; ".join(trend_parts) + " (mean ± 95% t half-width across seeds)."
        sentences.append("Across latent sizes, " + sentence if len(sizes) > 1 else sentence[0].upper() + sentence[1:])
    return sentences


def _seed_stat(members: list[dict], d: int | None, representation: str, path: str) -> dict | None:
    """t interval across seeds of a value; for the raw input (d None) one value per seed, from any size."""
    values = {}
    for run in members:
        if d is not None and run["latent_dim"] != d:
            continue
        value = _value(run["metrics"], representation, path)
        if value is not None:
            values.setdefault(run["seed"], value)
    return t_interval(list(values.values())) if values else None


def _mean_pm(stat: dict, digits: int) -> str:
    if stat["ci_low"] is None:
        return format_number(stat["mean"], digits)
    return f"{format_number(stat['mean'], digits)} ± {format_number(stat['ci_high'] - stat['mean'], digits)}"
