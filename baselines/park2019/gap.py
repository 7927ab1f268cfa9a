"""How large is the acoustic gap between the strong (synthetic) clips and the others of a dataset?

Two numbers from linear probes on clip summaries (time mean and standard deviation of every log-mel band,
standardised on the probe's training clips), each an L2-regularised logistic regression (``C`` as in
scikit-learn: minimise ``C * sum(BCE) + ||w||^2 / 2``, fitted by Newton's method in float64):

* **domain accuracy**: S against as many randomly drawn clips of the other roles, k-fold cross-validated
  accuracy (0.5 = no gap a linear probe can see);
* **tagging transfer**: one probe per class trained on S's true weak labels, and one on as many real train
  clips' true weak labels, both scored by macro AP on the eval split (real): the drop is the price of
  training on the other domain.

``python -m wlbench_baselines.park2019.gap DATASET.h5 [...]`` prints both for each file. Reads true labels: a
measuring tool for the docs, never part of a method.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from wlbench.dataset.reader import opened
from wlbench.metrics.ranking import map_macro


def clip_summary(features: np.ndarray) -> np.ndarray:
    """(N, T, F) log-mel -> (N, 2F): mean and standard deviation over time."""
    return np.concatenate([features.mean(axis=1), features.std(axis=1)], axis=1).astype(np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0, *, max_iter: int = 100):
    """Probe fitted on ``x`` (N, D), binary ``y`` (N,) by Newton's method (exact, damped by step halving;
    the bias is not penalised); returns a function x -> P(y = 1)."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    y = y.astype(np.float64)
    ridge = np.r_[np.ones(x.shape[1]), 1e-8]
    w = np.zeros(z.shape[1])

    def objective(v: np.ndarray) -> float:
        s = z @ v
        return float(c * np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * np.sum(ridge * v * v))

    value = objective(w)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = c * z.T @ (p - y) + ridge * w
        hess = c * (z.T * (p * (1.0 - p))) @ z + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6 and objective(w - t * step) > value:
            t *= 0.5
        w_new = w - t * step
        new_value = objective(w_new)
        done = value - new_value <= 1e-10 * max(1.0, abs(value))
        w, value = w_new, min(value, new_value)
        if done:
            break

    def predict(q: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.c_[(q - mean) / std, np.ones(len(q))] @ w)))

    return predict


def measure_gap(path: str | Path, *, split: str = "train", eval_split: str = "eval", seed: int = 0, folds: int = 5,
                tagging_c: float = 0.1) -> dict[str, float | int]:
    """Domain accuracy and tagging transfer (see the module docstring) of one dataset file."""
    with opened(path) as ds:
        sp, ev = ds.split(split), ds.split(eval_split)
        x, y, roles, names = clip_summary(sp.features()), sp.weak_labels(), sp.roles(), sp.role_names
        xe, ye = clip_summary(ev.features()), ev.weak_labels()
    rng = np.random.default_rng(seed)
    strong = np.flatnonzero(roles == names.index("strong"))
    others = np.flatnonzero(roles != names.index("strong"))
    if len(strong) < folds or len(others) < len(strong):
        raise ValueError(f"{path}: {len(strong)} strong and {len(others)} other clips in {split!r}: too few to measure")
    real = np.sort(rng.choice(others, len(strong), replace=False))
    idx = np.concatenate([strong, real])
    d = np.concatenate([np.zeros(len(strong)), np.ones(len(real))])
    order = rng.permutation(len(idx))
    correct = 0
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        p = fit_logistic(x[idx[train]], d[train])(x[idx[test]])
        correct += int(((p > 0.5) == (d[test] == 1)).sum())

    def tagging(rows: np.ndarray) -> float:
        scores = np.zeros(ye.shape, dtype=np.float64)
        for c in range(y.shape[1]):
            if y[rows, c].min() == y[rows, c].max():
                scores[:, c] = float(y[rows[0], c])  # a class constant on the training clips: its prior
            else:
                scores[:, c] = fit_logistic(x[rows], y[rows, c], tagging_c)(xe)
        return map_macro(scores, ye)

    return {"strong": int(len(strong)), "domain_accuracy": correct / len(idx),
            "map_trained_on_strong": tagging(strong), "map_trained_on_real": tagging(real)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in args.datasets:
        r = measure_gap(path, seed=args.seed)
        print(f"{path}: domain accuracy {r['domain_accuracy']:.3f} (S {r['strong']} vs {r['strong']} real clips); "
              f"eval mAP trained on S {r['map_trained_on_strong']:.3f}, on real clips {r['map_trained_on_real']:.3f}")


if __name__ == "__main__":
    main()
