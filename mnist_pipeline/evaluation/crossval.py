"""Cross-validation statistics: each model's mean, spread and 95% interval over its folds, paired
comparisons of models on the same folds, and the tables that show them."""

import hashlib
import itertools
import json
import math
import statistics

CONFIDENCE = 0.95


def t_cdf(x: float, df: int, steps: int = 2000) -> float:
    """Student's t distribution function at x >= 0 (Simpson's rule on its density; no SciPy)."""
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(t: float) -> float:
        return scale * (1 + t * t / df) ** (-(df + 1) / 2)

    h = x / steps
    odd = sum(density((2 * i - 1) * h) for i in range(1, steps // 2 + 1))
    even = sum(density(2 * i * h) for i in range(1, steps // 2))
    return 0.5 + h / 3 * (density(0) + 4 * odd + 2 * even + density(x))


def t_quantile(p: float, df: int) -> float:
    """The x with t_cdf(x, df) = p, for 0.5 <= p < 1, by bisection."""
    low, high = 0.0, 1000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2


def interval(values: list[float], spread: float | None = None, confidence: float = CONFIDENCE) -> dict:
    """Mean, sample standard deviation and the t-interval of the mean of values (95% unless asked;
    the keys keep the ci95 name whatever the confidence).

    spread is the standard error's factor on the standard deviation, 1/sqrt(k) by default.
    """
    k = len(values)
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half = t_quantile(1 - (1 - confidence) / 2, k - 1) * std * (spread if spread is not None else 1 / math.sqrt(k))
    return {key: round(value, 6) for key, value in
            {"mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half}.items()}


def corrected_spread(k: int) -> float:
    """The standard error's factor on the standard deviation over k folds, widened for k-fold's
    overlapping training sets.

    Folds share most of their training images, so their scores are correlated and the plain
    1/sqrt(k) is too narrow; Nadeau and Bengio's correction (Machine Learning 52, 2003) uses
    1/k + n_val/n_train = 1/k + 1/(k - 1) in place of 1/k for the variance of the mean. A model's
    interval and a comparison's both use it.
    """
    return math.sqrt(1 / k + 1 / (k - 1))


def paired_difference(a: list[float], b: list[float], candidates: int = 1) -> dict:
    """b - a, fold by fold, with the corrected interval; see repeated_difference for candidates."""
    return repeated_difference([[y - x for x, y in zip(a, b)]], candidates)


def repeated_difference(runs: list[list[float]], candidates: int = 1) -> dict:
    """The corrected interval of a paired difference measured on the same k folds once per training
    seed (runs: one list of k fold differences per seed), for one of `candidates` changes that were
    cross-validated against the same recipe.

    Seeds repeated on the same partitions are not new folds: their differences share each fold's
    validation images and training set. So each fold's differences are averaged over the seeds and
    the k means take the k-fold correction, with k - 1 degrees of freedom (counting the k * r runs
    as separate folds, as Bouckaert and Frank's repeated k-fold test does for fresh partitions,
    would claim r times the degrees of freedom the data has). Choosing one of several candidates
    tests each of them: Bonferroni's correction gives each a 1 - 0.05 / candidates interval.
    """
    k = len(runs[0])
    if any(len(run) != k for run in runs):
        raise ValueError("every seed's run needs a difference for each of the same folds")
    means = [statistics.fmean(fold) for fold in zip(*runs)]
    result = interval(means, spread=corrected_spread(k), confidence=1 - (1 - CONFIDENCE) / candidates)
    return {**result, "confidence": round(1 - (1 - CONFIDENCE) / candidates, 6)}


def params_digest(params: dict, model: str) -> str:
    """A digest of everything in params.yaml that a model's cross-validation depends on: the shared
    recipe, the model's block and the folds. A result is current only while it matches."""

    def plain(value):  # reads each key explicitly (dict subclasses included)
        return {key: plain(value[key]) for key in value} if isinstance(value, dict) else value

    relevant = {"train": plain(params["train"]), "model": plain(params["models"][model] or {}),
                "crossval": {key: plain(params["crossval"])[key] for key in ("folds", "seed")}}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def summarize(results: dict[str, list[dict]], digests: dict[str, str]) -> dict:
    """summary.json: per model (results: name -> its fold results in fold order) the corrected
    interval of validation accuracy and loss, and b - a for each pair of models in order."""
    summary: dict = {"folds": len(next(iter(results.values()))) if results else 0}
    for name, folds in results.items():
        spread = corrected_spread(len(folds))
        summary[name] = {
            "val_accuracy": interval([f["val_accuracy"] for f in folds], spread),
            "val_loss": interval([f["val_loss"] for f in folds], spread),
            "params_digest": digests[name],
        }
    summary["comparisons"] = {}
    for a, b in itertools.combinations(results, 2):
        difference = paired_difference([f["val_accuracy"] for f in results[a]], [f["val_accuracy"] for f in results[b]])
        summary["comparisons"][f"{b} - {a}"] = {key: difference[key] for key in ("mean", "ci95_low", "ci95_high")}
    return summary


def current_result(summary: dict, params: dict, model: str) -> dict | None:
    """The model's accuracy interval if its cross-validation ran with today's params, else None."""
    entry = summary.get(model)
    if not isinstance(entry, dict) or entry.get("params_digest") != params_digest(params, model):
        return None
    return entry["val_accuracy"]


def verdict(difference: dict, a: str, b: str) -> str:
    if difference["ci95_low"] > 0:
        return f"`{b}` better"
    if difference["ci95_high"] < 0:
        return f"`{a}` better"
    return "no difference shown"


def pp(value: float, sign: bool = False) -> str:
    """A fraction as percentage points."""
    return f"{value * 100:{'+' if sign else ''}.2f}"


def to_markdown(summary: dict, results: dict[str, list[dict]], images: int, seed: int) -> str:
    k = summary["folds"]
    lines = [
        f"Cross-validation, {k} folds of the {images:,} training images, stratified by class (seed {seed}).",
        "Each model is trained with its own recipe on all folds but one and scored on that one after its",
        "last epoch; the 95% interval of the mean over folds is widened for the folds' shared training",
        "images (Nadeau and Bengio's correction), as the comparisons' below.",
        "",
        "| model | validation accuracy, mean ± std (%) | 95% interval (%) | validation loss, mean ± std | "
        + " | ".join(f"fold {i}" for i in range(1, k + 1)) + " |",
        "| --- | ---: | ---: | ---: |" + " ---: |" * k,
    ]
    for name, folds in results.items():
        acc, loss = summary[name]["val_accuracy"], summary[name]["val_loss"]
        lines.append(
            f"| `{name}` | {pp(acc['mean'])} ± {pp(acc['std'])} | {pp(acc['ci95_low'])} to {pp(acc['ci95_high'])} | "
            f"{loss['mean']:.4f} ± {loss['std']:.4f} | " + " | ".join(pp(f["val_accuracy"]) for f in folds) + " |"
        )
    if summary["comparisons"]:
        lines += [
            "",
            "Paired differences of validation accuracy on the same folds, with the interval widened for",
            "the folds' shared training images (Nadeau and Bengio's correction):",
            "",
            "| comparison | mean difference (pp) | 95% interval (pp) | verdict |",
            "| --- | ---: | ---: | --- |",
        ]
        for pair, difference in summary["comparisons"].items():
            b, a = pair.split(" - ")
            lines.append(
                f"| `{b}` - `{a}` | {pp(difference['mean'], sign=True)} | "
                f"{pp(difference['ci95_low'], sign=True)} to {pp(difference['ci95_high'], sign=True)} | "
                f"{verdict(difference, a, b)} |"
            )
    return "\n".join(lines) + "\n"
